"""The endpoints: each translates HTTP into one call on `Core` (in a worker thread) and back.

The guard (guard.py) has already checked Host, Origin, rate, token, media type and size when an
endpoint runs; the `bearer` dependencies only document the token in the OpenAPI schema.
Identical concurrent queries, reviews and completions are coalesced (flight.py): followers report
`cached: true` with zero usage, as a cache hit would (they caused no upstream call and no spend).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer

from .. import __version__
from ..assistant.provider.remote import DEADLINE_HEADER
from ..errors import SymphonyError
from .core import FREE, Core, completion_key
from .errors import api_error
from .flight import SingleFlight
from .guard import SWITCH_PATH
from .schemas import (
    CompleteIn,
    CompletionOut,
    HealthOut,
    ModelsOut,
    QueryIn,
    QueryOut,
    ReviewIn,
    ReviewOut,
    SwitchKeyIn,
    SwitchKeyOut,
    TemplateOut,
    TemplatesOut,
    Usage,
)

__all__ = ["PAGE_HEADERS", "add_routes"]

T = TypeVar("T")

# The dashboard carries its own Content-Security-Policy (a <meta>: no network loads, its one script by
# hash). These add only what a <meta> cannot say; a CSP header here would have to repeat the hash.
PAGE_HEADERS = {
    "Cache-Control": "no-store",  # usage and spend: not for shared caches, not for the back button
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors is ignored in a <meta> CSP
    "Referrer-Policy": "no-referrer",
}

_DEADLINE_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": DEADLINE_HEADER,
            "in": "header",
            "required": False,
            "description": "seconds the client will still wait (capped by the server's deadline)",
            "schema": {"type": "number", "exclusiveMinimum": 0},
        }
    ]
}

_THEME_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": "theme",
            "in": "query",
            "required": False,
            "description": "light or dark instead of the browser's preference (read by the page's script)",
            "schema": {"type": "string", "enum": ["dark", "light"]},
        }
    ]
}


def add_routes(app: FastAPI, core: Core, *, public: bool) -> None:
    """Register every endpoint of `app` over `core`. `public` documents the token on all of them."""
    flights = SingleFlight()
    # Documents the token where it is required (the guard enforces it): switch-key always, all in public mode.
    token_dep = [Depends(HTTPBearer(auto_error=False, description="SYMPHONY_ASSIST_SERVER_TOKEN"))]
    bearer = token_dep if public else []

    async def in_thread(fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except SymphonyError as exc:
            raise api_error(exc) from None

    async def coalesced(key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        try:
            return await flights.run(key, fn)
        except SymphonyError as exc:
            raise api_error(exc) from None

    @app.get("/healthz", dependencies=bearer)
    async def healthz() -> HealthOut:
        return HealthOut(status="ok", version=__version__)

    @app.get("/assistant/models", dependencies=bearer)
    async def models() -> ModelsOut:
        return await in_thread(core.models)

    @app.post("/assistant/query", dependencies=bearer)
    async def query(body: QueryIn) -> QueryOut:
        try:
            key = core.query_key(body)
        except SymphonyError as exc:
            raise api_error(exc) from None
        out, leader = await coalesced("query:" + key, lambda: core.query(body))
        return (
            out
            if leader
            else out.model_copy(
                update={"cached": True, "usage": Usage(total_tokens=0, prompt_tokens=0, completion_tokens=0)}
            )
        )

    @app.post(SWITCH_PATH, dependencies=token_dep)
    async def switch_key(body: SwitchKeyIn, request: Request) -> SwitchKeyOut:
        client = request.client.host if request.client else "unknown"
        return await in_thread(lambda: core.switch(body.key, client))

    @app.post("/assistant/review", dependencies=bearer)
    async def review(body: ReviewIn) -> ReviewOut:
        key = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        out, leader = await coalesced("review:" + key, lambda: core.review(body))
        return out if leader else out.model_copy(update={"cached": True})

    @app.get("/assistant/templates", dependencies=bearer)
    async def templates() -> TemplatesOut:
        rows = [t for t in core.registry.all() if not t.hidden]
        return TemplatesOut(
            templates=[TemplateOut(name=t.name, kind=t.kind, description=t.description, source=t.source) for t in rows]
        )

    @app.get("/assistant/stats", dependencies=bearer)
    async def stats() -> dict[str, Any]:
        return await in_thread(core.stats)

    @app.get(
        "/assistant/dashboard",
        dependencies=bearer,
        response_class=HTMLResponse,
        openapi_extra=_THEME_PARAMETER,
        summary="The usage report: spend, cache hit rate, tokens, fallbacks (an HTML page)",
    )
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(await in_thread(core.dashboard), headers=PAGE_HEADERS)

    @app.post("/assistant/complete", dependencies=bearer, openapi_extra=_DEADLINE_PARAMETER)
    async def complete(body: CompleteIn, request: Request) -> CompletionOut:
        req = body.chat()
        key = completion_key(req)
        left = _seconds(request.headers.get(DEADLINE_HEADER), core.settings.deadline)
        deadline = time.monotonic() + left
        out, leader = await coalesced("complete:" + key, lambda: core.complete(req, key, deadline))
        return out if leader else out.model_copy(update={**FREE, "key_alias": "coalesced", "cached": True})

    names = sorted(t.name for t in core.registry.all() if not t.hidden)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_templates(generate(), names)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _seconds(raw: str | None, cap: float) -> float:
    """The client's remaining time from its header, within [1, cap]; `cap` when absent or not a number."""
    try:
        value = float(raw) if raw is not None else cap
    except ValueError:
        return cap
    return max(1.0, min(cap, value)) if math.isfinite(value) else cap  # at least 1 s: a call takes time


def document_templates(schema: dict[str, Any], names: list[str]) -> None:
    """Name the templates this server knows in the schema (its registry is fixed at start-up)."""
    props = schema["components"]["schemas"]
    enum = {"type": "string", "enum": names}
    query = props["QueryIn"]["properties"]["template"]
    query["anyOf"] = [enum, {"type": "null"}]
    review = props["ReviewIn"]["properties"]["templates"]
    review["anyOf"] = [{"type": "array", "items": enum, "minItems": 1, "maxItems": 10}, {"type": "null"}]
