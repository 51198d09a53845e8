"""The cached, budget-capped core: `Assistant.ask` runs every request through one pipeline.

1. redact every item's content (SecretScanError → nothing is sent; the whole request falls back)
2. key each (item, template) by sha256 of the canonical request — computable without rendering
3. cache hit → answer with source "cache", $0, no network, no openai/pydantic/jinja2 import
4. misses are grouped by the templates they still need and packed into as few requests as the
   token limit allows (instructions are paid once per request, not once per item)
5. per request: render, reserve the worst case in the ledger, call the provider (retries, key
   failover inside), fall back to the fallback model on model errors, validate, settle, cache per item
6. whatever is still unanswered (no key, offline, budget refused, service down, deadline) goes to the
   caller's local fallback, labelled "local", with one reason line

Steps 1-3 live here, in the facade, and are all a cache hit runs. Steps 4-6 are the miss path:
`batching` (packing items into requests, taking the answer apart) and `misses.MissRun` (render,
model fallback, local fallback), imported lazily from `ask` so a hit never parses them. A MissRun
sees only this class's public surface (`misses.Parts`); every chat call it makes goes through
`Assistant.complete`, the one metered call (price, reserve, call, settle, record), which the server's
relay endpoint uses too.

This package imports no adapter: no click, pytest, git or fastapi.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings, user_dirs
from ..errors import NO_KEY, OFFLINE, FallbackReason, NoKeyError, SecretScanError
from ..plugins import get_plugin_manager, has_third_party_plugins
from ..scan.policy import REDACTION_POLICY_VERSION
from .cache import open_cache
from .endpoint import endpoint_of
from .prompts import Registry, load_registry
from .request import Fallback, Item, ItemResult, Options, Request, Response
from .stats import StatsLog

if TYPE_CHECKING:
    from ..progress import ProgressCallback
    from .cache import Cache
    from .ledger import Ledger
    from .misses import Billed, OnBill
    from .provider import Provider
    from .provider.openai import ChatRequest

__all__ = ["Assistant", "Halt", "cache_key", "content_hash", "make_provider", "wire_text"]

# 2: the canonical request holds the content's hash, not the content; 3: and the endpoint (issue 19)
CACHE_FORMAT = "3"
SCAN_FORMAT = "1"


def cache_key(
    *,
    frame: str,
    template_sha: str,
    template: str,
    frame_sha: str,
    model: str,
    label: str,
    temperature: float,
    max_tokens: int,
    redaction: str,
    endpoint: str,
    content: str | None = None,
    content_sha: str | None = None,
) -> str:
    """sha256 of the canonical request for one (item, template). Content must already be redacted;
    pass it, or `content_sha` (the sha256 hex of its UTF-8 bytes) when only the hash is known.
    `endpoint` is `endpoint.endpoint_of(...)`: answers of different servers never mix."""
    if content_sha is None:
        content_sha = content_hash(content or "")
    canonical = json.dumps(
        [
            CACHE_FORMAT,
            endpoint,
            frame,
            frame_sha,
            template,
            template_sha,
            model,
            label,
            content_sha,
            temperature,
            max_tokens,
            redaction,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_SURROGATE = re.compile("[\ud800-\udfff]")


def wire_text(text: str) -> str:
    """`text` as valid UTF-8 for a request: a lone surrogate becomes a visible escape.

    A byte that is not UTF-8 in a file name (git output decoded with surrogateescape) becomes `\\xff`,
    any other lone surrogate `\\udXXX`; without this the HTTP client raises UnicodeEncodeError.
    """
    if not _SURROGATE.search(text):
        return text

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(escape, text)


@dataclass
class _Prepared:
    """One item ready for keying: its redacted label and the hash of its redacted content.

    `redacted` is the item with redacted content when this run scanned it; an item whose scan was
    remembered is only redacted again if it has to be sent.
    """

    item: Item
    label: str
    content_sha: str
    redactions: int
    redacted: Item | None = None


class Halt:
    """A run's stop state, shared by its concurrent requests: the first reason the service is out for
    this run (every later request falls back with it), and the lock that guards the run's ledger
    calls, its responses' counters and its warnings."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reason: FallbackReason | None = None

    def stop(self, reason: FallbackReason) -> FallbackReason:
        """Record `reason` unless the run already stopped; the reason the run stopped with."""
        with self.lock:
            if self.reason is None:
                self.reason = reason
            return self.reason


class Assistant:
    """One run's view of the core. Components are created lazily so a run that is all cache hits never
    builds a provider, a ledger or a price table."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: Cache | None = None,
        scans: Cache | None = None,
        ledger: Ledger | None = None,
        provider: Provider | None = None,
        registry: Registry | None = None,
        stats: StatsLog | None = None,
        warn: Callable[[str], None] | None = None,
        run_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """`progress` gets a `progress.Tick` as each request of a miss starts and ends (never on a hit).
        `scans` is the secret-scan memo (see `scans`), for a caller that keeps one open across runs."""
        self.settings = settings
        self.run_id = run_id or os.urandom(6).hex()
        self._warnings: list[str] = []
        self._warn_cb = warn
        self._cache = cache
        self._scans = scans
        self._ledger = ledger
        self._provider = provider
        self._registry = registry
        self._stats = stats
        self.halt = Halt()
        self.deadline = time.monotonic() + settings.deadline
        self.progress = progress
        self._owned: set[int] = set()  # ids of the components created here, closed by close()

    # ------------------------------------------------------------------------------------ components
    def warn(self, message: str) -> None:
        with self.halt.lock:
            if message in self._warnings:
                return
            self._warnings.append(message)
        if self._warn_cb is not None:
            self._warn_cb(message)

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    @property
    def cache_dir(self) -> Path:
        path = self.settings.resolved_cache_dir
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            self.warn(f"cache dir {path} unusable ({exc.strerror}): nothing will be cached")
        return path

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            self._cache = open_cache(self.settings, self.warn)
        return self._cache

    @property
    def scans(self) -> Cache:
        """This machine's memo of secret scans: raw item hash -> redacted label, content hash, count.

        A repeat run keys its items from it without running the secret scanner again. It holds no
        content and no secret, and it stays on this machine whatever the cache backend.
        """
        if self._scans is None:
            self._scans = open_cache(self.settings, self.warn, subdir="scans", local_only=True)
        return self._scans

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from .ledger import open_ledger  # deferred: only a miss reserves (~6 ms of imports a hit skips)

            self._ledger = open_ledger(self.settings, warn=self.warn)
            self._owned.add(id(self._ledger))
        return self._ledger

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = load_registry(self.settings.project_root)
        return self._registry

    @property
    def stats(self) -> StatsLog:
        if self._stats is None:
            path: Path | None = self.cache_dir / "stats.jsonl"
            if self.settings.cache_backend == "memory":
                path = None
            sink = None
            if self.settings.cache_backend == "redis":  # the team's stream, besides this machine's file
                from .stats.redis import SpooledStats  # deferred: team code, never on the disk backend's path

                sink = SpooledStats(self.settings, self.warn, path.with_name("stats-spool.jsonl") if path else None)
            self._stats = StatsLog(path, self.run_id, sink=sink)
        return self._stats

    @property
    def recorded_events(self) -> list[dict[str, Any]]:
        """The stats events this run recorded so far."""
        return list(self._stats.events) if self._stats is not None else []

    @property
    def earliest_expiry(self) -> float | None:
        """The soonest expiry (epoch seconds) among the cache entries this run was answered from, if known."""
        expiry = getattr(self._cache, "earliest_expiry", None)
        return float(expiry) if isinstance(expiry, int | float) else None

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = make_provider(self.settings)
            self._owned.add(id(self._provider))
        return self._provider

    def close(self) -> None:
        """Close the cache, and the ledger and provider this Assistant opened itself (an open ledger
        connection kept the database's files open after the run; an SDK client kept its sockets)."""
        for store in (self._cache, self._scans):
            if store is not None:
                store.close()
        if self._stats is not None:
            self._stats.flush()
        for part in (self._ledger, self._provider):
            if part is not None and id(part) in self._owned:
                close = getattr(part, "close", None)
                if callable(close):
                    close()

    @property
    def endpoint(self) -> str:
        """The service this run's answers come from, as it is filed in the cache keys."""
        return endpoint_of(self.settings.base_url, self.settings.server_url)

    # ----------------------------------------------------------------------------------------- API
    def offline_reason(self) -> FallbackReason | None:
        """Why this run cannot use the service at all, or None."""
        if self.halt.reason:
            return self.halt.reason
        if self.settings.offline:
            return OFFLINE
        if self._provider is None and not self.settings.server_url and not self.settings.has_key:
            if not has_third_party_plugins():
                return NO_KEY
            try:  # a plugin's provider (a local model, another service) needs no OpenAI key
                self.provider  # noqa: B018 - made now: the plugin says whether it answers these settings
            except NoKeyError:
                return NO_KEY
        return None

    def ask(self, request: Request, fallback: Fallback | None = None) -> Response:
        """Answer every (item, template) of `request`: cache, then the service, then `fallback`."""
        resp = Response()
        opts = self.options(request)
        try:
            prepared, resp.redactions = self._prepare(request.items)
        except SecretScanError as exc:
            from .misses import MissRun  # the miss path: a cache hit never parses it

            unanswered = [(it, t) for it in request.items for t in request.templates]
            return MissRun(self, request, {}, resp, fallback).finish(unanswered, FallbackReason.of(exc))
        keys: dict[tuple[str, str], str] = {}
        wanted: list[tuple[_Prepared, str]] = []
        hits: dict[tuple[str, str], list[int]] = {}  # (template, model) -> [answers, saved micro-USD]
        for prep, name, key in self._keyed(request, prepared):
            item_id = prep.item.id
            keys[(item_id, name)] = key
            hit = self.cache.get(key) if request.use_cache else None
            if hit is not None and isinstance(hit.get("data"), dict):
                saved = int(hit.get("cost_micro", 0))
                answered_by = str(hit.get("model", ""))
                resp.results[(item_id, name)] = ItemResult(item_id, name, hit["data"], "cache", answered_by)
                resp.cache_hits += 1
                resp.saved_micro += saved
                tally = hits.setdefault((name, answered_by or opts.model), [0, 0])
                tally[0] += 1
                tally[1] += saved
            else:
                wanted.append((prep, name))
        for (name, answered_by), (count, saved) in hits.items():  # one event per template, not per hit
            self.stats.record("cache", template=name, model=answered_by, items=count, saved_micro=saved)
        if not wanted:
            return resp  # all cache hits: nothing below this line is imported
        from .misses import MissRun  # the miss path: a cache hit never parses it

        return MissRun(self, request, keys, resp, fallback).answer(wanted)

    def options(self, request: Request) -> Options:
        """The options `request` is answered with: its own (the one carrier of per-request options), and
        the settings' defaults for those it leaves open (None)."""
        return Options(
            model=request.model or self.settings.model_primary,
            temperature=self.settings.temperature if request.temperature is None else request.temperature,
            max_tokens=request.max_tokens or self.settings.max_tokens,
        )

    def complete(self, chat: ChatRequest, *, template: str, items: int = 1, on_bill: OnBill | None = None) -> Billed:
        """One chat call through this run's budget: price it, reserve the worst case in the ledger, call
        the provider (retries and key failover inside it) within the run's deadline, settle what the
        answer cost and record the request in the stats. `on_bill(completion, cost_micro)` runs, under
        the run's lock, for every answer billed, an unusable one too (then the error is raised after
        it). Raises BudgetError when the ledger refuses, and whatever the provider raises."""
        from .misses import metered  # the miss path: a cache hit never parses it

        return metered(self, chat, template=template, items=items, on_bill=on_bill)

    def cache_keys(self, request: Request) -> dict[tuple[str, str], str]:
        """The key `ask` files each (item id, template) of `request` under. SecretScanError when the
        secret scan fails (`ask` would answer from the fallback: nothing is keyed then)."""
        prepared, _ = self._prepare(request.items)
        return {(prep.item.id, name): key for prep, name, key in self._keyed(request, prepared)}

    def _keyed(self, request: Request, prepared: Sequence[_Prepared]) -> Iterator[tuple[_Prepared, str, str]]:
        """Each prepared item with each template of `request`, and its cache key."""
        opts = self.options(request)
        frame_t = self.registry.frame(request.frame)
        templates = {name: self.registry.get(name) for name in request.templates}
        for prep in prepared:
            for name, tmpl in templates.items():
                yield (
                    prep,
                    name,
                    cache_key(
                        frame=request.frame + ("/plain" if request.plain else ""),
                        frame_sha=frame_t.sha256,
                        template=name,
                        template_sha=tmpl.sha256,
                        model=opts.model,
                        label=prep.label,
                        content_sha=prep.content_sha,
                        temperature=opts.temperature,
                        max_tokens=opts.max_tokens,
                        redaction=REDACTION_POLICY_VERSION,
                        endpoint=self.endpoint,
                    ),
                )

    def _prepare(self, items: Sequence[Item]) -> tuple[list[_Prepared], int]:
        """Redacted labels and content hashes for `items`, from the scan memo where it knows them."""

        out: list[_Prepared] = []
        total = 0
        for given in items:
            it = given
            if _SURROGATE.search(it.label) or _SURROGATE.search(it.content):  # only valid UTF-8 is sent
                it = Item(it.id, wire_text(it.content), wire_text(it.label))
            raw = content_hash(f"{SCAN_FORMAT}\0{REDACTION_POLICY_VERSION}\0{it.label}\0{it.content}")
            memo = self.scans.get(raw)
            if memo is not None and isinstance(memo.get("sha"), str) and isinstance(memo.get("label"), str):
                prep = _Prepared(it, memo["label"], memo["sha"], int(memo.get("n", 0)))
            else:
                # deferred: a hit answers from the scan memo; the secret rules cost ~18 ms of imports
                from ..scan.redact import redact

                content, found = redact(it.content)
                label, found_label = redact(it.label)
                redacted = Item(it.id, content, label)
                prep = _Prepared(it, label, content_hash(content), len(found) + len(found_label), redacted)
                self.scans.set(raw, {"sha": prep.content_sha, "label": label, "n": prep.redactions})
            total += prep.redactions
            out.append(prep)
        return out, total

    def ask_many(self, requests: Sequence[Request], fallback: Fallback | None = None) -> list[Response]:
        """Several independent requests with bounded concurrency; answers in input order."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            return list(pool.map(lambda r: self.ask(r, fallback), requests))

    async def aask(self, request: Request, fallback: Fallback | None = None) -> Response:
        """`ask` for asyncio programs (runs in a worker thread; the pipeline itself is blocking I/O)."""
        import asyncio

        return await asyncio.to_thread(self.ask, request, fallback)

    def query(
        self,
        prompt: str,
        *,
        template: str = "general",
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        use_cache: bool = True,
    ) -> Response:
        """One free-text question, sent as a plain chat completion (no JSON framing); the text comes back
        as `data["answer"]`."""
        req = Request.question(
            prompt, template=template, model=model, temperature=temperature, max_tokens=max_tokens, use_cache=use_cache
        )
        return self.ask(req)


def make_provider(settings: Settings) -> Provider:
    """The plugin's provider if one claims the settings, the remote server if configured, else OpenAI."""

    if has_third_party_plugins():
        chosen = get_plugin_manager().hook.provider(settings=settings)
        if chosen is not None:
            return chosen  # type: ignore[no-any-return]
    if settings.server_url:
        from .provider.remote import RemoteProvider  # deferred: the miss path's provider (httpx2 behind it)

        return RemoteProvider(settings)
    if not settings.has_key:
        raise NoKeyError("no API key configured: set OPENAI_API_KEY (or OPENAI_API_KEY_PRIMARY)")
    # deferred (both): the miss path's provider (~30 ms of imports, the openai SDK behind it)
    from .provider import OpenAIProvider
    from .provider.keys import KeyRing

    keys = KeyRing(settings.api_key_primary, settings.api_key_secondary, user_dirs()[1] / "state.json")
    return OpenAIProvider(settings, keys)
