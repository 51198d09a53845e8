"""What every request shares, per process: settings, cache, ledger, key ring, provider, registry.

Each endpoint is one method here, run in a worker thread (routes.py); it calls the same core as the
command (`Assistant.query`, `Assistant.complete`, `review_changes`, the KeyRing, the stats log) and
returns a response body. The pipeline (redact, key, reserve, call, settle, cache, record) is the core's;
what is the server's own is the relay's cache of completions and the per-request ledger view.

A server never forwards to another server (nor to itself): `server_url` and `server_token` are
dropped from the settings its Assistant sees. `budget_run` caps each HTTP request (RequestLedger).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..assistant.cache import Cache, open_cache
from ..assistant.ledger import Ledger, open_ledger
from ..assistant.prompts import Registry, load_registry
from ..assistant.provider import NO_KEY_MESSAGE, OpenAIProvider
from ..assistant.provider.keys import KeyRing
from ..assistant.provider.openai import ChatRequest
from ..assistant.request import Request
from ..assistant.stats import StatsLog, summarize
from ..config import Settings, user_dirs
from ..errors import AuthError, BudgetError, NoKeyError, ProviderError, QuotaError, SecretScanError, UsageError
from ..logsafe import inert_line
from ..report.figures import stats_document
from ..report.html import dashboard_html
from ..review.pipeline import ReviewOptions, review_changes
from .diff import parse_diff
from .errors import ApiError, reason_error
from .ledger import RequestLedger
from .schemas import (
    CompletionOut,
    FindingOut,
    KeyOut,
    ModelsOut,
    QueryIn,
    QueryOut,
    ReviewIn,
    ReviewOut,
    SwitchKeyOut,
    Usage,
)

__all__ = ["FREE", "MODELS_TTL", "Core", "completion_key"]

log = logging.getLogger(__name__)

MODELS_TTL = 300.0  # seconds the service's model list is reused
_NONCE = re.compile(r"<data-([0-9a-f]{16})>")


def completion_key(req: ChatRequest) -> str:
    """The server's cache key of a chat request. The random delimiter nonce the client drew
    (prompts.render_items) is keyed by position only: the texts are split at that nonce, so two
    requests share a key exactly when they are equal up to a consistent renaming of it."""
    nonce = _NONCE.search(req.user.split("\n", 1)[0])
    split = (lambda text: text.split(nonce.group(1))) if nonce else (lambda text: [text])
    canonical = json.dumps(
        ["complete/1", split(req.system), split(req.user), req.model, req.temperature, req.max_tokens, req.json_schema],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Core:
    """What every request shares: settings, cache, ledger, keys, provider, registry."""

    def __init__(self, settings: Settings) -> None:
        # A server never forwards to another server (nor to itself).
        self.settings = replace(settings, server_url=None, server_token=None)
        self.registry: Registry = load_registry(settings.project_root)
        self.cache: Cache = open_cache(self.settings, self.warn)
        self.scans: Cache = open_cache(self.settings, self.warn, subdir="scans", local_only=True)
        self.ledger: Ledger = open_ledger(replace(self.settings, budget_run=None), warn=self.warn)
        self.run_cap = None if settings.budget_run is None else round(settings.budget_run * 1_000_000)
        self.state_path = user_dirs()[1] / "state.json"
        self.keys = KeyRing(settings.api_key_primary, settings.api_key_secondary, self.state_path)
        self.provider = OpenAIProvider(self.settings, self.keys) if settings.has_key else None
        self._models: tuple[float, list[str]] | None = None
        self._switch_lock = threading.Lock()

    def warn(self, message: str) -> None:
        log.warning("%s", inert_line(message))  # may quote an upstream error: the log may be a CI log

    def assistant(self, *, deadline: float | None = None, stats: StatsLog | None = None) -> Assistant:
        """An Assistant for one HTTP request: the shared components, `budget_run` as the request's cap,
        and the client's `deadline` (a time.monotonic() value) when it sent one."""
        settings = self.settings
        if deadline is not None:
            settings = replace(settings, deadline=max(0.0, deadline - time.monotonic()))
        return Assistant(
            settings,
            cache=self.cache,
            scans=self.scans,
            ledger=RequestLedger(self.ledger, self.run_cap),
            provider=self.provider,
            registry=self.registry,
            stats=stats,
            warn=self.warn,
        )

    def close(self) -> None:
        self.cache.close()
        self.scans.close()
        if self.provider is not None:
            self.provider.close()
        close = getattr(self.ledger, "close", None)
        if callable(close):
            close()

    # -------------------------------------------------------------------------------- query
    def query_text(self, body: QueryIn) -> str:
        if body.context is None:
            return body.prompt
        if isinstance(body.context, str):
            return f"{body.prompt}\n\nContext:\n{body.context}"
        parts = "\n\n".join(f"## {name}\n{value}" for name, value in sorted(body.context.items()))
        return f"{body.prompt}\n\nContext:\n{parts}"

    def query_request(self, body: QueryIn) -> Request:
        return Request.question(
            self.query_text(body),
            template=body.template or "general",
            model=body.model,
            temperature=body.temperature,
            max_tokens=body.max_tokens,
        )

    def query_key(self, body: QueryIn) -> str:
        """The cache key `Assistant.ask` files this question under (the single-flight key)."""
        request = self.query_request(body)
        template = request.templates[0]
        self.registry.get(template)  # UsageError for an unknown template: 400
        try:
            return self.assistant().cache_keys(request)[("q1", template)]
        except SecretScanError:  # ask answers it with the scan's reason; coalesce on the raw body
            return "unscanned:" + hashlib.sha256(body.model_dump_json().encode()).hexdigest()

    def query(self, body: QueryIn) -> QueryOut:
        request = self.query_request(body)
        template = request.templates[0]
        resp = self.assistant().ask(request)
        result = resp.get("q1", template)
        if result.data is None:
            raise reason_error(resp.fallback_reason)
        api = result.source == "api"
        prompt, completion = (resp.prompt_tokens, resp.completion_tokens) if api else (0, 0)
        return QueryOut(
            model=result.model or body.model or self.settings.model_primary,
            content=str(result.data.get("answer", "")),
            usage=Usage(total_tokens=prompt + completion, prompt_tokens=prompt, completion_tokens=completion),
            cached=result.source == "cache",
        )

    # -------------------------------------------------------------------------------- complete
    def complete(self, req: ChatRequest, key: str, deadline: float) -> CompletionOut:
        """Relay a client's chat request: from this server's cache of completions, or through the core's
        metered call (`Assistant.complete`: reserve, call, settle, record), then cached when usable."""
        stats = StatsLog(self._stats_path(), "server-" + uuid.uuid4().hex[:12])
        hit = self.cache.get(key) or {}
        stored = hit.get("completion")
        if isinstance(stored, dict) and isinstance(stored.get("content"), str):
            model = str(stored.get("model") or req.model)
            stats.record("cache", template="remote", model=model, saved_micro=int(hit.get("cost_micro") or 0))
            finish = str(stored.get("finish_reason") or "stop")
            return CompletionOut(
                content=stored["content"], model=model, finish_reason=finish, key_alias="cache", cached=True, **FREE
            )
        if self.provider is None:
            raise NoKeyError(NO_KEY_MESSAGE)
        billed = self.assistant(deadline=deadline, stats=stats).complete(req, template="remote")
        done = billed.completion
        out = CompletionOut(
            content=done.content,
            model=done.model,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cached_tokens=done.cached_tokens,
            finish_reason=done.finish_reason,
            key_alias=done.key_alias,
            attempts=done.attempts,
            latency=done.latency,
            cached=False,
        )
        if req.json_schema is None or _is_json_object(done.content):  # never cache an unusable document
            keep = out.model_dump(include={"content", "model", "finish_reason"})
            self.cache.set(
                key,
                {"completion": keep, "model": done.model, "cost_micro": billed.cost_micro},
                ttl=self.settings.cache_ttl or None,
            )
        return out

    def _stats_path(self) -> Path | None:
        if self.settings.cache_backend == "memory":
            return None
        return self.settings.resolved_cache_dir / "stats.jsonl"

    # -------------------------------------------------------------------------------- review
    def review(self, body: ReviewIn) -> ReviewOut:
        """Review the client's diff; file content comes from the diff only (diff.py), never from this host."""
        templates = tuple(body.templates or self.settings.templates)
        for name in templates:
            self.registry.get(name)  # UsageError: 400
        sent = parse_diff(body.diff)
        opts = ReviewOptions(
            source="staged",
            templates=templates,
            model=body.model,
            temperature=body.temperature,
            max_tokens=body.max_tokens,
        )
        report = review_changes(
            self.settings, opts, assistant=self.assistant(), changes=sent.changes, read_files=sent.read
        )
        counts = {name: getattr(report, name) for name in ReviewOut.model_fields if name not in ("findings", "cached")}
        return ReviewOut(
            findings=[FindingOut(**f.to_dict()) for f in report.findings],
            cached=report.api_requests == 0 and report.cache_hits > 0,
            **counts,
        )

    # -------------------------------------------------------------------------------- keys, models, stats
    def models(self) -> ModelsOut:
        keys = [KeyOut(**{k: row[k] for k in KeyOut.model_fields}) for row in self.keys.describe()]
        active = next((k.alias for k in keys if k.active), None)
        doc = ModelsOut(
            models=[],
            active_key=active,
            keys=keys,
            primary_model=self.settings.model_primary,
            fallback_model=self.settings.model_fallback,
        )
        if self.provider is None:
            return doc.model_copy(update={"error": NO_KEY_MESSAGE})
        cached = self._models
        if cached is not None and time.monotonic() - cached[0] < MODELS_TTL:
            return doc.model_copy(update={"models": cached[1]})
        try:
            models = self.provider.list_models(deadline=time.monotonic() + self.settings.timeout)
        except (ProviderError, NoKeyError) as exc:
            return doc.model_copy(update={"error": str(exc)})
        self._models = (time.monotonic(), models)
        return doc.model_copy(update={"models": models})

    def switch(self, alias: str, client: str) -> SwitchKeyOut:
        """Validate the key with a models call, then make it the active one (persisted)."""
        key = self.settings.api_key_primary if alias == "primary" else self.settings.api_key_secondary
        if key is None:
            raise UsageError(f"the {alias} key is not configured on the server")
        with self._switch_lock:
            before = self.keys.active_alias
            probe = OpenAIProvider(
                self.settings,
                KeyRing(key if alias == "primary" else None, key if alias == "secondary" else None, self.state_path),
            )
            try:
                probe.list_models(deadline=time.monotonic() + self.settings.timeout)
            except (AuthError, QuotaError) as exc:
                raise ApiError(400, "key_rejected", f"{exc}; the active key is still {before}") from None
            except ProviderError as exc:
                raise ApiError(
                    503,
                    "cannot_validate",
                    f"cannot check the {alias} key now ({exc}); the active key is still {before}",
                ) from None
            finally:
                probe.close()
            self.keys.switch(alias)
        log.info("switch-key: %s -> %s (%s) requested by %s", before, alias, key.masked(), client)
        return SwitchKeyOut(active=alias, key_hint=key.masked())

    def stats(self) -> dict[str, Any]:
        path = self._stats_path()
        summary = summarize(StatsLog(path).read())
        try:
            budget = self.ledger.status()
            budget.pop("path", None)
        except BudgetError as exc:
            budget = {"error": str(exc)}
        entries = self.cache.info().get("entries")

        return stats_document(entries, budget, summary)

    def dashboard(self) -> str:
        """The usage report page (report.py) over the stats log and the shared ledger."""

        return dashboard_html(self.assistant())  # not closed: the Assistant borrows the shared cache


FREE: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "attempts": 0, "latency": 0.0}


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
