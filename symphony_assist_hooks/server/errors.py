"""Error answers: `{"error": {"code", "message", ...}}` with an HTTP status, and the one mapping from the
core's exceptions to them (RemoteProvider maps them back, see assistant/remote.py).

A message is one line: never a traceback, never a key. The guard answers with the same body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    EXIT_BUDGET,
    EXIT_NO_KEY,
    EXIT_SECRET_SCAN,
    NO_ANSWER,
    AuthError,
    BadAnswerError,
    BudgetError,
    FallbackReason,
    GitError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    SecretScanError,
    SymphonyError,
    UnavailableError,
    UsageError,
)
from .schemas import ErrorBody

__all__ = ["ERRORS", "ApiError", "add_handlers", "api_error", "reason_error"]


class ApiError(Exception):
    """An error answer: HTTP status, a stable code and a one-line message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message, **self.extra}}, self.status, headers)


def api_error(exc: SymphonyError) -> ApiError:
    """The one mapping from the core's errors to HTTP (RemoteProvider maps them back)."""
    msg = str(exc)
    if isinstance(exc, BudgetError):
        return ApiError(402, "budget_exceeded", msg)
    if isinstance(exc, NoKeyError):
        return ApiError(503, "no_key", msg)
    if isinstance(exc, AuthError):
        return ApiError(502, "upstream_auth", msg)
    if isinstance(exc, QuotaError):
        return ApiError(502, "upstream_quota", msg)
    if isinstance(exc, ModelError):
        return ApiError(400, "model_error", msg)
    if isinstance(exc, BadAnswerError):
        return ApiError(502, "bad_answer", msg)
    if isinstance(exc, UnavailableError):
        return ApiError(503, "upstream_unavailable", msg, upstream_status=getattr(exc, "status", None))
    if isinstance(exc, ProviderError):
        return ApiError(502, "upstream_error", msg)
    if isinstance(exc, SecretScanError):
        return ApiError(422, "secret_scan", msg)
    if isinstance(exc, UsageError | GitError):
        return ApiError(400, "bad_request", msg)
    return ApiError(503, "server_error", msg)


def reason_error(reason: FallbackReason | None) -> ApiError:
    """Why the pipeline fell back (a typed one-line reason) → the error answer."""
    reason = reason or NO_ANSWER
    if reason.exit_code == EXIT_BUDGET:
        return ApiError(402, "budget_exceeded", reason)
    if reason.exit_code == EXIT_NO_KEY:
        return ApiError(503, "no_key", reason)
    if reason.exit_code == EXIT_SECRET_SCAN:  # as api_error: nothing was sent, a retry would not help
        return ApiError(422, "secret_scan", reason)
    return ApiError(503, "upstream_unavailable", reason)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "bad request or Host header"),
        (401, "token missing or wrong"),
        (402, "the server's budget refused the call"),
        (403, "forbidden (Origin, token not configured)"),
        (413, "body over 1 MiB"),
        (415, "not application/json"),
        (422, "invalid body"),
        (429, "rate limited"),
        (502, "the upstream service failed"),
        (503, "the upstream service is unavailable"),
    )
}


def add_handlers(app: FastAPI) -> None:
    """Answer ApiError, invalid bodies (without echoing them) and FastAPI's own 404/405 in the error format."""

    @app.exception_handler(ApiError)
    async def api(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"loc": [], "msg": "invalid body"}
        where = ".".join(str(p) for p in first["loc"])
        message = f"invalid request: {where + ': ' if where else ''}{first['msg']}"
        return ApiError(422, "invalid_request", message, fields=fields).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, code, str(exc.detail)).response(exc.headers)
