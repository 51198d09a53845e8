"""The miss path: everything `Assistant.ask` does once some (item, template) is not in the cache.

Per request of the plan (`batching.plan`): render, reserve the worst case in the ledger, call the
provider (retries and key failover are inside it), fall back to the fallback model on model errors,
validate, settle, cache per item, record stats. Whatever is still unanswered (no key, offline, budget
refused, service down, deadline) goes to the caller's local fallback with one reason line.

Imported only on a miss (or when the secret scan fails): a cache hit never loads this module, nor
jinja2, pydantic or openai through it. The functions take the `Assistant` whose run they serve; its
lock guards the ledger, the response's counters and the run's stop reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

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
)
from .request import MAX_COMPLETION_TOKENS, Item, ItemResult, Pair, Request, Response

if TYPE_CHECKING:
    from . import Assistant, _Prepared
    from .batching import Chunk
    from .ledger.rules import Reservation
    from .pricing import Price
    from .provider.openai import ChatRequest, Completion
    from .request import Fallback


class Stop(Exception):
    """Ends a run's API use: every item not answered yet falls back with this reason."""

    def __init__(self, reason: FallbackReason):
        super().__init__(str(reason))
        self.reason = reason


def answer_misses(
    assistant: Assistant,
    request: Request,
    wanted: Sequence[tuple[_Prepared, str]],
    keys: Mapping[tuple[str, str], str],
    model: str,
    temperature: float,
    per_item: int,
    resp: Response,
    fallback: Fallback | None,
) -> Response:
    """Answer the `wanted` (item, template) pairs the cache did not know, into `resp`."""
    try:
        missing: list[Pair] = [(redacted(prep), name) for prep, name in wanted]
    except SecretScanError as exc:
        return finish(assistant, resp, [(prep.item, name) for prep, name in wanted], FallbackReason.of(exc), fallback)
    reason = assistant.offline_reason()
    if reason is None:
        reason = ask_service(assistant, request, missing, keys, model, temperature, per_item, resp)
    unanswered = [p for p in missing if (p[0].id, p[1]) not in resp.results]
    return finish(assistant, resp, unanswered, reason, fallback)


def redacted(prep: _Prepared) -> Item:
    """The item as it may be sent: its content redacted (again, if the scan was remembered)."""
    if prep.redacted is None:
        from ..scan.redact import redact

        prep.redacted = Item(prep.item.id, redact(prep.item.content)[0], prep.label)
    return prep.redacted


def finish(
    assistant: Assistant,
    resp: Response,
    unanswered: Sequence[Pair],
    reason: FallbackReason | None,
    fallback: Fallback | None,
) -> Response:
    """Hand `unanswered` to the caller's `fallback` ("local"; "none" where it has no answer)."""
    if not unanswered:
        return resp
    resp.fallback_reason = reason or NO_ANSWER
    # The reason is printed once, as the reason: not again as a notice (a bad answer is both).
    resp.notices = [n for n in resp.notices if n != resp.fallback_reason]
    local: Mapping[tuple[str, str], dict[str, Any]] = {}
    if fallback is not None:
        local = fallback(unanswered, resp.fallback_reason)
    for it, name in unanswered:
        data = local.get((it.id, name))
        source = "local" if data is not None else "none"
        resp.results[(it.id, name)] = ItemResult(it.id, name, data, source)
        assistant.stats.record("local", template=name, items=1, reason=resp.fallback_reason)
    return resp


def ask_service(
    assistant: Assistant,
    request: Request,
    missing: Sequence[Pair],
    keys: Mapping[tuple[str, str], str],
    model: str,
    temperature: float,
    per_item: int,
    resp: Response,
) -> FallbackReason | None:
    """Send the plan's requests (concurrently when there are several); the first stop reason, or None."""
    from .batching import plan

    chunks, sending = plan(request, missing, assistant.settings.max_request_tokens)
    reasons: list[FallbackReason] = []
    tracker = None
    if assistant._progress is not None:
        from ..progress import Tracker

        tracker = Tracker(assistant._progress, total=len(request.items), cached=len(request.items) - sending)

    def run(chunk: Chunk) -> None:
        names, items = chunk
        token = tracker.sending(it.label or it.id for it in items) if tracker is not None else 0
        answered = False
        try:
            send(assistant, request, names, items, keys, model, temperature, per_item, resp)
            answered = True
        except Stop as stop:
            with assistant._lock:
                reasons.append(stop.reason)
        finally:
            if tracker is not None:
                tracker.sent(token, len(items), resp.cost_micro, answered=answered)

    if len(chunks) == 1:
        run(chunks[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(assistant.settings.concurrency, len(chunks))) as pool:
            list(pool.map(run, chunks))
    if tracker is not None:
        tracker.finish(resp.cost_micro)
    return reasons[0] if reasons else None


def send(
    assistant: Assistant,
    request: Request,
    names: tuple[str, ...],
    items: list[Item],
    keys: Mapping[tuple[str, str], str],
    model: str,
    temperature: float,
    per_item: int,
    resp: Response,
    *,
    halved: bool = False,
) -> None:
    """One request of the plan: render it, then try the model and, on model errors, the fallback model.

    A batch answer truncated at max_tokens is asked again once as two smaller batches (`halved`), each
    within the run's budget and deadline, before its items fall back."""
    from ..errors import UnavailableError
    from .prompts import TemplateRenderError, render
    from .provider.openai import ChatRequest

    settings = assistant.settings
    if assistant._stopped:
        raise Stop(assistant._stopped)
    if time.monotonic() >= assistant.deadline:
        raise Stop(FallbackReason(f"deadline of {settings.deadline:g}s reached"))
    schema = None
    try:
        if request.plain:  # one question: a plain chat completion, no frame and no JSON
            from .prompts import render_plain

            system, user = render_plain(assistant.registry, names[0], items[0])
        else:
            from .schema import json_schema

            system, user = render(assistant.registry, request.frame, names, items)
            schema = json_schema(request.frame, names)
    except TemplateRenderError as exc:  # a refused template: nothing is sent, the run answers locally
        stop(assistant, FallbackReason.of(exc))
    max_tokens = min(per_item * len(items) * len(names), MAX_COMPLETION_TOKENS)
    models = [model]
    if settings.model_fallback and settings.model_fallback != model:
        models.append(settings.model_fallback)
    last: ProviderError | None = None
    for attempt_model in models:
        chat = ChatRequest(
            system=system,
            user=user,
            model=attempt_model,
            temperature=temperature,
            max_tokens=max_tokens,
            json_schema=schema,
        )
        try:
            call(assistant, request, chat, names, items, keys, resp)
            return
        except ModelError as exc:
            last = exc  # try the fallback model
        except UnavailableError as exc:
            if getattr(exc, "status", None) is None or int(getattr(exc, "status", 0)) < 500:
                stop(assistant, FallbackReason.of(exc))
            last = exc
        except (AuthError, QuotaError, NoKeyError) as exc:
            stop(assistant, FallbackReason.of(exc))
        except BadAnswerError as exc:
            if not halved and len(items) > 1 and truncated(exc):
                resp.notices.append(f"{exc}: asked again as smaller batches")
                halves = (items[: len(items) // 2], items[len(items) // 2 :])
                stops: list[FallbackReason] = []
                for part in halves:
                    try:
                        send(assistant, request, names, part, keys, model, temperature, per_item, resp, halved=True)
                    except Stop as stopped:
                        stops.append(stopped.reason)
                if stops:
                    raise Stop(stops[0]) from None
                return
            if getattr(exc, "completion", None) is None:  # nothing billed: the service's answers were unreadable
                resp.notices.append(str(exc))
                raise Stop(FallbackReason.of(exc)) from None
            n = len(items)
            with assistant._lock:
                resp.dropped += n  # paid for, and nothing of it usable (#18)
            raise Stop(
                FallbackReason(f"the model's answer could not be used: {exc} ({n} of {n} items dropped)")
            ) from None
        except ProviderError as exc:  # "the OpenAI client failed (…)": falls back like any fault, never blocks
            stop(assistant, FallbackReason.of(exc))
    raise Stop(FallbackReason.of(last) if last else NO_ANSWER)


def truncated(exc: BadAnswerError) -> bool:
    """True when `exc` is an answer cut off at max_tokens (the billed completion says so)."""
    return getattr(getattr(exc, "completion", None), "finish_reason", None) == "length"


def stop(assistant: Assistant, reason: FallbackReason) -> NoReturn:
    """Stop the run's API use: the first reason given is the one every later request falls back with."""
    with assistant._lock:
        if assistant._stopped is None:
            assistant._stopped = reason
    raise Stop(assistant._stopped)


def call(
    assistant: Assistant,
    request: Request,
    chat: ChatRequest,
    names: tuple[str, ...],
    items: list[Item],
    keys: Mapping[tuple[str, str], str],
    resp: Response,
) -> None:
    """Reserve the worst case, call the provider, settle, and cache and record each (item, template)."""
    from .batching import redact_answers, split
    from .pricing import price_for, worst_case_micro

    price = price_for(chat.model, assistant.settings.prices)
    if not price.known and chat.model not in assistant._price_notices:
        assistant._price_notices.add(chat.model)
        assistant.warn(
            f"no price known for model {chat.model}: counted as $0 (set [tool.symphony-assist.prices] to budget it)"
        )
    worst = worst_case_micro(price, chat.system + chat.user, chat.max_tokens)
    try:
        with assistant._lock:
            reservation = assistant.ledger.reserve(worst)
    except BudgetError as exc:
        stop(assistant, FallbackReason.of(exc))
    try:
        completion = assistant.provider.complete(chat, deadline=assistant.deadline)
    except BadAnswerError as exc:
        # A truncated or refused answer is still billed: settle what the provider reported, and log
        # the request, so the stats' spend stays equal to the ledger's.
        billed = getattr(exc, "completion", None)
        with assistant._lock:
            resp.failed_tries += max(0, exc.attempts - (0 if billed is None else 1))
        if billed is None:
            with assistant._lock:
                assistant.ledger.release(reservation)
            raise
        bill(assistant, reservation, price, billed, names, items, resp)
        raise  # send() asks a truncated batch again as halves, or says the answer could not be used
    except BaseException as exc:
        with assistant._lock:
            assistant.ledger.release(reservation)
            resp.failed_tries += int(getattr(exc, "attempts", 0))  # tries that got no usable answer
        raise
    actual = bill(assistant, reservation, price, completion, names, items, resp)
    unmatched = 0  # items of the request the answer has no entry for
    if request.plain:
        answers = {items[0].id: {"answer": completion.content}}
        per_template: dict[tuple[str, str], dict[str, Any]] = {(items[0].id, names[0]): answers[items[0].id]}
    else:
        from .schema import parse_results

        parsed, dropped = parse_results(request.frame, completion.content)
        if dropped:
            with assistant._lock:
                resp.dropped += dropped
            resp.notices.append(f"{dropped} malformed item(s) or finding(s) of the model's answer dropped")
        per_template = split(request.frame, names, items, parsed)
        answered = {item_id for item_id, _ in per_template}
        unmatched = sum(1 for it in items if it.id not in answered)
    per_template, leaked = redact_answers(per_template)
    if leaked:
        resp.redactions += leaked
        resp.notices.append(f"{leaked} secret(s) in the model's answer redacted")
    share = actual // max(1, len(per_template))
    for (item_id, name), data in per_template.items():
        resp.results[(item_id, name)] = ItemResult(item_id, name, data, "api", completion.model)
        assistant.cache.set(
            keys[(item_id, name)],
            {"data": data, "model": completion.model, "cost_micro": share},
            ttl=assistant.settings.cache_ttl or None,
        )
        assistant.stats.record("api", template=name, model=completion.model, items=1)
    if not request.plain and unmatched:  # billed above; the items left go to the local fallback
        with assistant._lock:
            resp.dropped += unmatched
        raise Stop(
            FallbackReason(
                f"the model's answer did not match the request ({unmatched} of {len(items)} items unmatched)"
            )
        )
    left_out = len(items) * len(names) - len(per_template)
    if left_out > 0:  # a weak model's answer that skips a template for an item: say so, not "did not answer"
        raise Stop(FallbackReason(f"the model's answer left out {left_out} of {len(items) * len(names)} item(s)"))


def bill(
    assistant: Assistant,
    reservation: Reservation,
    price: Price,
    completion: Completion,
    names: tuple[str, ...],
    items: list[Item],
    resp: Response,
) -> int:
    """Settle `reservation` with what `completion` cost and log the request; returns the cost."""
    from .pricing import cost_micro

    actual = cost_micro(price, completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens)
    with assistant._lock:
        assistant.ledger.settle(reservation, actual)
        resp.api_requests += 1
        resp.failed_tries += max(0, completion.attempts - 1)  # the retries before this answer
        resp.prompt_tokens += completion.prompt_tokens
        resp.completion_tokens += completion.completion_tokens
        resp.cached_tokens += completion.cached_tokens
        resp.cost_micro += actual
        if completion.model not in resp.models:
            resp.models.append(completion.model)
    assistant.stats.record(
        "request",
        template=",".join(names),
        model=completion.model,
        items=len(items),
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        cost_micro=actual,
        latency_ms=round(completion.latency * 1000, 1),
        key=completion.key_alias,
    )
    return actual
