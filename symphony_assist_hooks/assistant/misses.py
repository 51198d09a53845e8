"""The miss path: everything `Assistant.ask` does once some (item, template) is not in the cache.

A `MissRun` answers one `ask`'s misses. Per request of the plan (`batching.plan`): render, make the
metered call (`metered`: price, reserve the worst case in the ledger, call the provider — retries and
key failover are inside it — settle, record), fall back to the fallback model on model errors,
validate, cache per item, record stats. Whatever is still unanswered (no key, offline, budget refused,
service down, deadline) goes to the caller's local fallback with one reason line.

Both see only the Assistant's public surface (`Parts`): its settings, components, deadline and run
stop state (`Halt`, whose lock guards the ledger, the responses' counters and the stop reason).

Imported only on a miss (or when the secret scan fails): a cache hit never loads this module, nor
jinja2, pydantic or openai through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ..config import Settings
from ..errors import (
    NO_ANSWER,
    AuthError,
    BadAnswerError,
    BudgetError,
    FallbackReason,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    SecretScanError,
    UnavailableError,
)
from ..progress import Tracker
from ..scan.redact import redact
from .batching import Chunk, plan, redact_answers, split
from .pricing import cost_micro, price_for, worst_case_micro
from .prompts import Registry, TemplateRenderError, render, render_plain
from .provider.openai import ChatRequest, Completion
from .request import MAX_COMPLETION_TOKENS, Item, ItemResult, Options, Pair, Request, Response

if TYPE_CHECKING:
    from ..progress import ProgressCallback
    from . import Halt, _Prepared
    from .cache import Cache
    from .ledger import Ledger
    from .provider import Provider
    from .request import Fallback
    from .stats import StatsLog

__all__ = ["Billed", "MissRun", "OnBill", "Parts", "Stop", "metered"]

OnBill = Callable[[Completion, int], None]  # told each billed answer and its cost (micro-USD)


class Parts(Protocol):
    """The Assistant's public surface the miss path uses (components are built on first use)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def deadline(self) -> float: ...  # time.monotonic() value the run gives up at
    @property
    def halt(self) -> Halt: ...
    @property
    def progress(self) -> ProgressCallback | None: ...
    @property
    def provider(self) -> Provider: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def cache(self) -> Cache: ...
    @property
    def stats(self) -> StatsLog: ...
    @property
    def registry(self) -> Registry: ...
    def warn(self, message: str) -> None: ...
    def offline_reason(self) -> FallbackReason | None: ...
    def options(self, request: Request) -> Options: ...
    def complete(
        self, chat: ChatRequest, *, template: str, items: int = 1, on_bill: OnBill | None = None
    ) -> Billed: ...


@dataclass(frozen=True)
class Billed:
    """An answer and what the ledger was charged for it (micro-USD)."""

    completion: Completion
    cost_micro: int


class Stop(Exception):
    """Ends a run's API use: every item not answered yet falls back with this reason."""

    def __init__(self, reason: FallbackReason):
        super().__init__(str(reason))
        self.reason = reason


def stop(halt: Halt, reason: FallbackReason) -> NoReturn:
    """Stop the run's API use: the first reason given is the one every later request falls back with."""
    raise Stop(halt.stop(reason))


def metered(
    parts: Parts,
    chat: ChatRequest,
    *,
    template: str,
    items: int,
    on_bill: OnBill | None,
) -> Billed:
    """`Assistant.complete`: reserve the worst case, call the provider, settle and record the request."""
    lock = parts.halt.lock
    price = price_for(chat.model, parts.settings.prices)
    if not price.known:  # warn() says each line once per run
        parts.warn(
            f"no price known for model {chat.model}: counted as $0 (set [tool.symphony-assist.prices] to budget it)"
        )
    with lock:
        reservation = parts.ledger.reserve(worst_case_micro(price, chat.system + chat.user, chat.max_tokens))

    def bill(completion: Completion) -> int:
        actual = cost_micro(price, completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens)
        with lock:
            parts.ledger.settle(reservation, actual)
            if on_bill is not None:
                on_bill(completion, actual)
        parts.stats.record(
            "request",
            template=template,
            model=completion.model,
            items=items,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cached_tokens=completion.cached_tokens,
            cost_micro=actual,
            latency_ms=round(completion.latency * 1000, 1),
            key=completion.key_alias,
        )
        return actual

    try:
        completion = parts.provider.complete(chat, deadline=parts.deadline)
    except BadAnswerError as exc:
        # A truncated or refused answer is still billed: settle what the provider reported, and log
        # the request, so the stats' spend stays equal to the ledger's.
        billed = getattr(exc, "completion", None)
        if isinstance(billed, Completion):
            bill(billed)
        else:
            with lock:
                parts.ledger.release(reservation)
        raise
    except BaseException:
        with lock:
            parts.ledger.release(reservation)
        raise
    return Billed(completion, bill(completion))


def truncated(exc: BadAnswerError) -> bool:
    """True when `exc` is an answer cut off at max_tokens (the billed completion says so)."""
    return getattr(getattr(exc, "completion", None), "finish_reason", None) == "length"


class MissRun:
    """The miss path of one `Assistant.ask`: answers the (item, template) pairs the cache did not know
    into `resp`, through the service or else the caller's `fallback`. `keys` are the pairs' cache keys."""

    def __init__(
        self,
        parts: Parts,
        request: Request,
        keys: Mapping[tuple[str, str], str],
        resp: Response,
        fallback: Fallback | None,
    ) -> None:
        self.parts = parts
        self.request = request
        self.options = parts.options(request)
        self.keys = keys
        self.resp = resp
        self.fallback = fallback

    def answer(self, wanted: Sequence[tuple[_Prepared, str]]) -> Response:
        """Answer the `wanted` (item, template) pairs: the service, then the local fallback."""
        try:
            missing: list[Pair] = [(redacted(prep), name) for prep, name in wanted]
        except SecretScanError as exc:
            return self.finish([(prep.item, name) for prep, name in wanted], FallbackReason.of(exc))
        reason = self.parts.offline_reason()
        if reason is None:
            reason = self.ask_service(missing)
        unanswered = [p for p in missing if (p[0].id, p[1]) not in self.resp.results]
        return self.finish(unanswered, reason)

    def finish(self, unanswered: Sequence[Pair], reason: FallbackReason | None) -> Response:
        """Hand `unanswered` to the caller's fallback ("local"; "none" where it has no answer)."""
        resp = self.resp
        if not unanswered:
            return resp
        resp.fallback_reason = reason or NO_ANSWER
        # The reason is printed once, as the reason: not again as a notice (a bad answer is both).
        resp.notices = [n for n in resp.notices if n != resp.fallback_reason]
        local: Mapping[tuple[str, str], dict[str, Any]] = {}
        if self.fallback is not None:
            local = self.fallback(unanswered, resp.fallback_reason)
        for it, name in unanswered:
            data = local.get((it.id, name))
            source = "local" if data is not None else "none"
            resp.results[(it.id, name)] = ItemResult(it.id, name, data, source)
            self.parts.stats.record("local", template=name, items=1, reason=resp.fallback_reason)
        return resp

    def ask_service(self, missing: Sequence[Pair]) -> FallbackReason | None:
        """Send the plan's requests (concurrently when there are several); the first stop reason, or None."""
        request, parts = self.request, self.parts
        chunks, sending = plan(request, missing, parts.settings.max_request_tokens)
        reasons: list[FallbackReason] = []
        tracker = None
        if parts.progress is not None:
            tracker = Tracker(parts.progress, total=len(request.items), cached=len(request.items) - sending)

        def run(chunk: Chunk) -> None:
            names, items = chunk
            token = tracker.sending(it.label or it.id for it in items) if tracker is not None else 0
            answered = False
            try:
                self.send(names, items)
                answered = True
            except Stop as stopped:
                with parts.halt.lock:
                    reasons.append(stopped.reason)
            finally:
                if tracker is not None:
                    tracker.sent(token, len(items), self.resp.cost_micro, answered=answered)

        if len(chunks) == 1:
            run(chunks[0])
        else:
            with ThreadPoolExecutor(max_workers=min(parts.settings.concurrency, len(chunks))) as pool:
                list(pool.map(run, chunks))
        if tracker is not None:
            tracker.finish(self.resp.cost_micro)
        return reasons[0] if reasons else None

    def send(self, names: tuple[str, ...], items: list[Item], *, halved: bool = False) -> None:
        """One request of the plan: render it, then try the model and, on model errors, the fallback model.

        A batch answer truncated at max_tokens is asked again once as two smaller batches (`halved`), each
        within the run's budget and deadline, before its items fall back."""
        parts, request, opts = self.parts, self.request, self.options
        settings = parts.settings
        if parts.halt.reason:
            raise Stop(parts.halt.reason)
        if time.monotonic() >= parts.deadline:
            raise Stop(FallbackReason(f"deadline of {settings.deadline:g}s reached"))
        schema = None
        try:
            if request.plain:  # one question: a plain chat completion, no frame and no JSON
                system, user = render_plain(parts.registry, names[0], items[0])
            else:
                from .schema import json_schema  # pydantic

                system, user = render(parts.registry, request.frame, names, items)
                schema = json_schema(request.frame, names)
        except TemplateRenderError as exc:  # a refused template: nothing is sent, the run answers locally
            stop(parts.halt, FallbackReason.of(exc))
        max_tokens = min(opts.max_tokens * len(items) * len(names), MAX_COMPLETION_TOKENS)
        models = [opts.model]
        if settings.model_fallback and settings.model_fallback != opts.model:
            models.append(settings.model_fallback)
        last: ProviderError | None = None
        for attempt_model in models:
            chat = ChatRequest(
                system=system,
                user=user,
                model=attempt_model,
                temperature=opts.temperature,
                max_tokens=max_tokens,
                json_schema=schema,
            )
            try:
                self.call(chat, names, items)
                return
            except ModelError as exc:
                last = exc  # try the fallback model
            except UnavailableError as exc:
                if getattr(exc, "status", None) is None or int(getattr(exc, "status", 0)) < 500:
                    stop(parts.halt, FallbackReason.of(exc))
                last = exc
            except (AuthError, QuotaError, NoKeyError, BudgetError) as exc:
                stop(parts.halt, FallbackReason.of(exc))
            except BadAnswerError as exc:
                if not halved and len(items) > 1 and truncated(exc):
                    self.resp.notices.append(f"{exc}: asked again as smaller batches")
                    self.send_halves(names, items)
                    return
                if not isinstance(getattr(exc, "completion", None), Completion):  # nothing billed: unreadable answers
                    self.resp.notices.append(str(exc))
                    raise Stop(FallbackReason.of(exc)) from None
                n = len(items)
                with parts.halt.lock:
                    self.resp.dropped += n  # paid for, and nothing of it usable (#18)
                reason = f"the model's answer could not be used: {exc} ({n} of {n} items dropped)"
                raise Stop(FallbackReason(reason)) from None
            except ProviderError as exc:  # "the OpenAI client failed (…)": falls back like any fault, never blocks
                stop(parts.halt, FallbackReason.of(exc))
        raise Stop(FallbackReason.of(last) if last else NO_ANSWER)

    def send_halves(self, names: tuple[str, ...], items: list[Item]) -> None:
        """Ask a truncated batch again as two smaller ones; Stop with the first half's reason to stop."""
        stops: list[FallbackReason] = []
        for part in (items[: len(items) // 2], items[len(items) // 2 :]):
            try:
                self.send(names, part, halved=True)
            except Stop as stopped:
                stops.append(stopped.reason)
        if stops:
            raise Stop(stops[0]) from None

    def call(self, chat: ChatRequest, names: tuple[str, ...], items: list[Item]) -> None:
        """The metered call, then cache and record each (item, template) of its answer."""
        parts, request, resp = self.parts, self.request, self.resp
        try:
            billed = parts.complete(chat, template=",".join(names), items=len(items), on_bill=self.count)
        except BadAnswerError as exc:
            paid = isinstance(getattr(exc, "completion", None), Completion)
            with parts.halt.lock:
                resp.failed_tries += max(0, exc.attempts - (1 if paid else 0))
            raise
        except BaseException as exc:
            with parts.halt.lock:
                resp.failed_tries += int(getattr(exc, "attempts", 0))  # tries that got no usable answer
            raise
        completion = billed.completion
        if request.plain:
            per_template: dict[tuple[str, str], dict[str, Any]] = {
                (items[0].id, names[0]): {"answer": completion.content}
            }
        else:
            from .schema import parse_results  # pydantic

            parsed, dropped = parse_results(request.frame, completion.content)
            if dropped:
                with parts.halt.lock:
                    resp.dropped += dropped
                resp.notices.append(f"{dropped} malformed item(s) or finding(s) of the model's answer dropped")
            per_template = split(request.frame, names, items, parsed)
        answered = {item_id for item_id, _ in per_template}
        unmatched = 0 if request.plain else sum(1 for it in items if it.id not in answered)
        per_template, leaked = redact_answers(per_template)
        if leaked:
            resp.redactions += leaked
            resp.notices.append(f"{leaked} secret(s) in the model's answer redacted")
        share = billed.cost_micro // max(1, len(per_template))
        for (item_id, name), data in per_template.items():
            resp.results[(item_id, name)] = ItemResult(item_id, name, data, "api", completion.model)
            parts.cache.set(
                self.keys[(item_id, name)],
                {"data": data, "model": completion.model, "cost_micro": share},
                ttl=parts.settings.cache_ttl or None,
            )
            parts.stats.record("api", template=name, model=completion.model, items=1)
        if unmatched:  # billed above; those items go to the local fallback, counted as dropped (#18)
            with parts.halt.lock:
                resp.dropped += unmatched
            reason = f"the model's answer did not match the request ({unmatched} of {len(items)} items unmatched)"
            raise Stop(FallbackReason(reason))
        left_out = len(items) * len(names) - len(per_template)
        if left_out > 0:  # a weak model's answer that skips a template for an item: say so, not "did not answer"
            raise Stop(FallbackReason(f"the model's answer left out {left_out} of {len(items) * len(names)} item(s)"))

    def count(self, completion: Completion, cost: int) -> None:
        """Add a billed answer to the response's counters (called under the run's lock)."""
        resp = self.resp
        resp.api_requests += 1
        resp.failed_tries += max(0, completion.attempts - 1)  # the retries before this answer
        resp.prompt_tokens += completion.prompt_tokens
        resp.completion_tokens += completion.completion_tokens
        resp.cached_tokens += completion.cached_tokens
        resp.cost_micro += cost
        if completion.model not in resp.models:
            resp.models.append(completion.model)


def redacted(prep: _Prepared) -> Item:
    """The item as it may be sent: its content redacted (again, if the scan was remembered)."""
    if prep.redacted is None:
        prep.redacted = Item(prep.item.id, redact(prep.item.content)[0], prep.label)
    return prep.redacted
