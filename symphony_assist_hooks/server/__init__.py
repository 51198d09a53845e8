"""The HTTP API (extra `server`): one host keeps the OpenAI keys, the cache and the budget for a team (#7).

    uvicorn symphony_assist_hooks.server:app           # settings from the environment, loopback
    symphony-assist serve [--host 127.0.0.1] [--port 8000]

A thin adapter over the same core as the command: every endpoint is a call on `Assistant`,
`review_changes`, the KeyRing or the stats log. JSON in, JSON out; every error is
`{"error": {"code", "message"}}` with a one-line message (never a traceback, never a key).

| endpoint                    | in → out                                                                  |
|-----------------------------|---------------------------------------------------------------------------|
| GET  /healthz               | {"status": "ok", "version"}                                               |
| GET  /assistant/models      | the service's models, the active key alias, keys masked (`sk-…abcd`)      |
| POST /assistant/query       | {"prompt", "model"?, "temperature"?, "max_tokens"?, "metadata"?,          |
|                             | "template"?, "context"?} → {"model", "content", "usage": {"total_tokens", |
|                             | "prompt_tokens", "completion_tokens"}, "cached"}                          |
| POST /assistant/switch-key  | {"key": "primary" or "secondary"} → {"active", "key_hint"}; the key is    |
|                             | validated with a models call first; a token is always required           |
| POST /assistant/review      | {"diff": unified diff, "templates"?, ...} → {"findings": [...], counts}   |
| GET  /assistant/templates   | the prompt templates                                                      |
| GET  /assistant/stats       | hit rate, tokens, spend against the budget, savings (as `stats --json`)   |
| GET  /assistant/dashboard   | the usage report as an HTML page (report.py; `?theme=dark|light` in-page) |
| POST /assistant/complete    | a ChatRequest → a Completion: what `RemoteProvider` calls, so clients     |
|                             | keep their own cache-hit path and the server holds keys, budget and cache |
| GET  /openapi.json, /docs   | the schema, and Swagger UI for loopback use (off in public mode)          |

`metadata` is accepted for the caller's bookkeeping and used for nothing; `context` (a string, or an
object of named strings) is appended to the prompt and is part of the cache key.

Security (docs/reference.md#http-server), enforced by one ASGI middleware (`guard.Guard`) before any endpoint runs:
- Loopback by default. A bearer token (`SYMPHONY_ASSIST_SERVER_TOKEN`, at least 32 characters) is
  required for switch-key always, and for every endpoint in public mode (`serve --host` not loopback)
  and for any connection that did not arrive on a loopback address (`uvicorn --host 0.0.0.0`): without
  a token such a server answers loopback clients only. Compared with `secrets.compare_digest` on bytes.
- DNS rebinding: unless public, the Host header must be 127.0.0.1, localhost or [::1] with the
  listening port (else 400); a non-local Origin is refused with 403 (no CORS headers are ever sent).
  Behind a reverse proxy, `SYMPHONY_ASSIST_SERVER_HOSTS` names the Host values it sends: those and the
  loopback ones are accepted, the server counts as public (token on every endpoint, no docs).
- JSON only (415), bodies up to 1 MiB (413), a token bucket per client address (429), and failed
  token checks throttled per client (429: a handful per minute, then every token is refused until
  the bucket refills, the right one too, so throttling is no oracle). Run uvicorn without
  `--proxy-headers` behind no proxy: the client address is what rate limits are keyed by.
- Keys never leave the process: responses show the alias and a masked hint only, logged tracebacks
  are scrubbed of configured keys and anything key-like, and a failed endpoint answers 500
  `{"error": {"code": "internal"}}`.

Budget: the server's ledger holds the daily and monthly caps for everyone; `budget_run` caps each
HTTP request. Its refusal is HTTP 402 `budget_exceeded`; a RemoteProvider turns it into BudgetError.

Coalescing: identical concurrent requests (same cache key; for /assistant/complete the same prompt up
to the random delimiter nonce) make one upstream call. The first request (the leader) runs the
pipeline; the others wait for its result. The leader reports what happened to it (`cached: false`
after an upstream call); followers report `cached: true` with zero usage, as a cache hit would: they
caused no upstream call and no spend. Coalescing is per process (uvicorn `--workers` do not share it).

`/assistant/review` parses the diff with `git.parse_patch` and never reads this host's repositories or
writes a file: the text analyzers see is rebuilt from the diff (context and added lines) and handed to
`review_changes` as its `read_files` reader (diff.py).

The modules: `guard` (the middleware and the token checks), `schemas` (bodies), `errors` (error
answers), `core` (the per-process state, one method per endpoint), `ledger` (the per-request budget),
`flight` (coalescing), `diff` (a client's diff), `routes` (the endpoints); `create_app` wires them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..config import Settings, load_settings
from .core import Core
from .errors import ERRORS, add_handlers
from .guard import Guard, Limits, check_token, scrubber
from .routes import add_routes

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, public: bool = False, limits: Limits | None = None) -> FastAPI:
    """The API over `settings` (default: from the environment). `public=True` (a non-loopback bind)
    needs `settings.server_token`, requires it on every endpoint, drops the Host check and the docs.
    `settings.server_hosts` (a reverse proxy in front of a loopback bind) makes it public too, and the
    Host header must then be one of those names or a loopback one.

    Raises UsageError for a missing (public) or short token."""
    settings = settings if settings is not None else load_settings()
    hosts = frozenset(h.strip().lower() for h in settings.server_hosts if h.strip())
    public = public or bool(hosts)
    check_token(settings, public)
    core = Core(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            core.close()

    app = FastAPI(
        title="symphony-assist",
        version=__version__,
        description="One host keeps the OpenAI keys, the cache and the budget for a team.",
        docs_url=None if public else "/docs",
        redoc_url=None,
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.add_middleware(
        Guard,
        token=settings.server_token,
        public=public,
        limits=limits or Limits(),
        scrub=scrubber(settings),
        hosts=hosts,
    )
    add_handlers(app)
    add_routes(app, core, public=public)
    return app


@functools.cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    """`app` is built on first access (`uvicorn symphony_assist_hooks.server:app`), from the environment."""
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
