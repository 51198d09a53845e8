"""OpenAIProvider through the real openai SDK against the fake server on 127.0.0.1 (and one MockTransport).

Waits are recorded by an injected `sleep`, and deadlines are read on an injected clock where a test depends
on them: no test measures real time. Keys are generated per run. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI

from symphony_assist_hooks.assistant.provider import NO_KEY_MESSAGE, OpenAIProvider, Provider
from symphony_assist_hooks.assistant.provider.faults import ServiceUnavailableError
from symphony_assist_hooks.assistant.provider.keys import KeyRing
from symphony_assist_hooks.assistant.provider.openai import ChatRequest, Completion, UnusableAnswerError
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.config.keys import Secret
from symphony_assist_hooks.errors import (
    AuthError,
    BadAnswerError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    UnavailableError,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "severity": {"enum": ["high", "low"]}},
                "required": ["line", "severity"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["summary", "findings"],
    "additionalProperties": False,
}
REQ = ChatRequest(
    system="You review diffs. Answer in JSON.",
    user="+x = 1\n" * 40,
    model="gpt-4o-mini",
    temperature=0.0,
    max_tokens=200,
)


def new_key() -> str:
    return "sk-test-" + secrets.token_hex(16)


def soon(seconds: float = 20.0) -> float:
    return time.monotonic() + seconds


@dataclass
class Rig:
    """A provider wired to the fake server, with the keys it holds and the waits it asked for."""

    fake: FakeOpenAI
    tmp: Path
    primary: str = field(default_factory=new_key)
    secondary: str = field(default_factory=new_key)
    waits: list[float] = field(default_factory=list)

    def provider(
        self,
        *,
        primary: bool = True,
        secondary: bool = True,
        timeout: float = 5.0,
        base_url: str | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> tuple[OpenAIProvider, KeyRing]:
        settings = Settings(
            api_key_primary=Secret(self.primary) if primary else None,
            api_key_secondary=Secret(self.secondary) if secondary else None,
            base_url=base_url or self.fake.url,
            timeout=timeout,
        )
        keys = KeyRing(settings.api_key_primary, settings.api_key_secondary, self.tmp / "state.json")
        return OpenAIProvider(settings, keys, sleep=sleep or self.waits.append, clock=clock), keys

    def used(self) -> list[str]:
        return self.fake.which_keys(primary=self.primary, secondary=self.secondary)


@pytest.fixture
def rig(fake_openai: FakeOpenAI, tmp_path: Path) -> Rig:
    return Rig(fake_openai, tmp_path)


# ------------------------------------------------------------------------------------------ success
def test_success_reads_content_and_usage_with_cached_tokens(rig: Rig) -> None:
    rig.fake.enqueue({"summary": "fine", "findings": []}, prompt_tokens=1000, completion_tokens=200, cached_tokens=500)
    provider, _ = rig.provider(clock=lambda: 1000.0 + 1.5 * len(rig.fake.requests))  # a request takes 1.5 s on it
    got = provider.complete(REQ, deadline=1020.0)

    assert json.loads(got.content) == {"summary": "fine", "findings": []}
    assert (got.prompt_tokens, got.completion_tokens, got.cached_tokens) == (1000, 200, 500)
    assert (got.model, got.finish_reason, got.key_alias, got.attempts) == ("gpt-4o-mini", "stop", "primary", 1)
    assert got.latency == 1.5  # measured on the provider's clock, not the machine's
    assert rig.waits == []
    [sent] = rig.fake.requests
    assert sent.method == "POST" and sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [
        {"role": "system", "content": REQ.system},
        {"role": "user", "content": REQ.user},
    ]
    assert sent.body["temperature"] == 0.0
    assert sent.body["max_tokens"] == 200  # an OpenAI-compatible server: the classic parameter
    assert "response_format" not in sent.body
    assert rig.used() == ["primary"]


def test_default_usage_and_missing_details(rig: Rig) -> None:
    rig.fake.enqueue("plain answer", cached_tokens=None, model="gpt-4o-mini-2024-07-18")
    provider, _ = rig.provider()
    got = provider.complete(REQ, deadline=soon())
    assert got.content == "plain answer"
    assert got.cached_tokens == 0  # prompt_tokens_details is Optional
    assert got.prompt_tokens == -(-len(REQ.system + REQ.user) // 4)
    assert got.completion_tokens == 3
    assert got.model == "gpt-4o-mini-2024-07-18"  # what the service says answered


def test_json_schema_is_sent_strict_and_the_default_answer_fits_it(rig: Rig) -> None:
    import jsonschema  # type: ignore[import-untyped]

    provider, _ = rig.provider()
    req = ChatRequest(**{**REQ.__dict__, "json_schema": {"name": "review", "schema": SCHEMA}})
    got = provider.complete(req, deadline=soon())

    assert rig.fake.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "review", "strict": True, "schema": SCHEMA},
    }
    answer = json.loads(got.content)
    jsonschema.validate(answer, SCHEMA)
    assert answer == {"summary": "ok", "findings": []}


def test_responder_scripts_answers_from_the_request(rig: Rig) -> None:
    rig.fake.responder = lambda body: {"echo": body["messages"][1]["content"][:6]}
    provider, _ = rig.provider()
    assert json.loads(provider.complete(REQ, deadline=soon()).content) == {"echo": "+x = 1"}


def test_calls_reuse_one_keep_alive_connection(rig: Rig) -> None:
    """One SDK client per key, reused: eleven calls open one TCP connection (the time each keep-alive call
    takes is measured in bench/, never asserted here)."""
    provider, _ = rig.provider()
    for _ in range(11):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.chat_requests) == 11
    assert rig.fake.connections == 1


# ------------------------------------------------------------------------------- transient faults
@pytest.mark.hardening_faults
def test_rate_limit_retry_after_is_honoured(rig: Rig) -> None:
    rig.fake.fail(429, code="rate_limit_exceeded", type="requests", retry_after=0.25, times=2)
    provider, _ = rig.provider()
    got = provider.complete(REQ, deadline=soon())
    assert got.attempts == 3
    assert rig.waits == [0.25, 0.25]


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry_after_ms": 120}, 0.12),
        ({"retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # an HTTP date in the past
        ({"retry_after": "soon"}, None),  # unparseable: our own backoff
    ],
)
@pytest.mark.hardening_faults
def test_retry_after_variants(rig: Rig, headers: dict[str, Any], wait: float | None) -> None:
    rig.fake.fail(429, code="rate_limit_exceeded", **headers)
    provider, _ = rig.provider()
    provider.complete(REQ, deadline=soon())
    [waited] = rig.waits
    if wait is None:
        assert 0 <= waited <= 0.5
    else:
        assert waited == pytest.approx(wait)


@pytest.mark.hardening_faults
def test_retry_after_beyond_the_deadline_gives_up_at_once(rig: Rig) -> None:
    rig.fake.fail(429, code="rate_limit_exceeded", retry_after=300, times=None)
    provider, _ = rig.provider()
    with pytest.raises(ServiceUnavailableError, match="asks to wait 300 s") as info:
        provider.complete(REQ, deadline=soon(10))
    assert info.value.status == 429
    assert len(rig.fake.requests) == 1
    assert rig.waits == []


@pytest.mark.hardening_faults
def test_503_twice_then_success_with_jittered_backoff(rig: Rig) -> None:
    rig.fake.fail(503, times=2)
    provider, _ = rig.provider()
    got = provider.complete(REQ, deadline=soon())
    assert got.attempts == 3
    assert len(rig.waits) == 2
    assert 0 <= rig.waits[0] <= 0.5 and 0 <= rig.waits[1] <= 1.0  # full jitter, base 0.5 s doubling


@pytest.mark.hardening_faults
def test_permanent_503_gives_up_after_three_tries(rig: Rig) -> None:
    rig.fake.fail(503, times=None)
    provider, _ = rig.provider()
    with pytest.raises(UnavailableError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "service unavailable after 3 tries (HTTP 503)"
    assert isinstance(info.value, ServiceUnavailableError) and info.value.status == 503
    assert len(rig.fake.requests) == 3


@pytest.mark.hardening_faults
def test_backoff_never_runs_past_the_deadline(rig: Rig) -> None:
    """Every backoff wait ends before the deadline, whatever the jitter draws (up to 0.5 s, then 1 s): 20 calls
    0.4 s before their deadline, on an injected clock that only the waits move. A loop that slept through the
    deadline shows in most of them as a wait ending past it."""
    rig.fake.fail(500, times=None)
    now = [1000.0]
    ends: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds
        ends.append(now[0])

    provider, _ = rig.provider(sleep=sleep, clock=lambda: now[0])
    for _ in range(20):
        deadline = now[0] + 0.4
        ends.clear()
        before = len(rig.fake.requests)
        with pytest.raises(UnavailableError) as info:
            provider.complete(REQ, deadline=deadline)
        assert all(end < deadline for end in ends), (ends, deadline)
        assert len(rig.fake.requests) - before == len(ends) + 1  # one try after each wait
        assert str(info.value) in (
            "service unavailable after 1 try (HTTP 500): no time left before the deadline",
            "service unavailable after 2 tries (HTTP 500): no time left before the deadline",
            "service unavailable after 3 tries (HTTP 500)",
        )


@pytest.mark.hardening_faults
def test_timeouts_are_retried_then_unavailable(rig: Rig) -> None:
    rig.fake.delay(10, times=None)  # then answered: a request not cut off at 0.2 s would succeed (no raise)
    provider, _ = rig.provider(timeout=0.2)
    with pytest.raises(ServiceUnavailableError, match=r"after 3 tries \(timed out after 0.2 s\)") as info:
        provider.complete(REQ, deadline=soon())
    assert info.value.status is None
    assert len(rig.fake.requests) == 3
    assert len(rig.waits) == 2  # a backoff between tries, none after the last


@pytest.mark.hardening_faults
def test_the_deadline_caps_the_request_timeout(rig: Rig) -> None:
    """The request's timeout is what is left before the deadline (0.3 s), not the configured 30 s. The clock is
    injected: a request takes its whole 0.3 s on it. A request sent with 30 s would be answered after the fake
    server's 10 s delay, and the call would succeed."""
    rig.fake.delay(10, times=None)
    provider, _ = rig.provider(timeout=30, clock=lambda: 1000.0 + 0.3 * len(rig.fake.requests))
    with pytest.raises(UnavailableError) as info:
        provider.complete(REQ, deadline=1000.0 + 0.3)
    assert str(info.value) == (
        "service unavailable after 1 try (timed out after 0.3 s): no time left before the deadline"
    )
    assert len(rig.fake.requests) == 1
    assert rig.waits == []


@pytest.mark.hardening_faults
def test_slow_first_byte_within_the_timeout_is_fine(rig: Rig) -> None:
    rig.fake.delay(0.2)
    provider, _ = rig.provider(timeout=3)
    assert provider.complete(REQ, deadline=soon()).attempts == 1


@pytest.mark.hardening_faults
def test_deadline_already_passed_sends_nothing(rig: Rig) -> None:
    provider, _ = rig.provider()
    with pytest.raises(UnavailableError, match="deadline"):
        provider.complete(REQ, deadline=time.monotonic() - 1)
    assert rig.fake.requests == []


@pytest.mark.hardening_faults
def test_connection_refused_fails_at_once(rig: Rig, closed_port_url: str) -> None:
    provider, _ = rig.provider(base_url=closed_port_url)
    with pytest.raises(ServiceUnavailableError, match="connection refused") as info:
        provider.complete(REQ, deadline=soon(30))
    assert info.value.attempts == 1  # not retried
    assert rig.waits == []  # and no backoff
    assert info.value.status is None
    assert closed_port_url.rsplit("/", 1)[0] in str(info.value)


@pytest.mark.hardening_faults
def test_dropped_connection_is_retried(rig: Rig) -> None:
    rig.fake.drop()
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).attempts == 2


@pytest.mark.hardening_faults
def test_malformed_body_is_retried(rig: Rig) -> None:
    rig.fake.malformed()
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).attempts == 2


@pytest.mark.hardening_faults
def test_malformed_body_every_time_is_a_bad_answer(rig: Rig) -> None:
    rig.fake.malformed(times=None, body="<html>gateway</html>")
    provider, _ = rig.provider()
    with pytest.raises(BadAnswerError, match="3 malformed responses"):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.requests) == 3


@pytest.mark.hardening_faults
def test_a_body_without_choices_is_malformed(rig: Rig) -> None:
    rig.fake.malformed(body='{"id": "x", "object": "chat.completion"}')
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).attempts == 2


# --------------------------------------------------------------------------------- key failover
@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.hardening_faults
def test_rejected_primary_fails_over_to_secondary(rig: Rig, status: int) -> None:
    provider, keys = rig.provider()
    rig.fake.fail(status, when_key=rig.primary, times=None)
    got = provider.complete(REQ, deadline=soon())
    assert got.key_alias == "secondary" and got.attempts == 2
    assert rig.used() == ["primary", "secondary"]
    assert rig.waits == []  # no backoff for a failover
    assert keys.active_alias == "secondary"
    provider.complete(REQ, deadline=soon())
    assert rig.used() == ["primary", "secondary", "secondary"]  # the rejected key is not retried
    assert not (rig.tmp / "state.json").exists()  # a failover is not persisted


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("insufficient_quota", "insufficient_quota"),
        (None, "insufficient_quota"),
        ("insufficient_quota", "requests"),
        ("credit_balance_exhausted", None),
        ("organization_spend_limit_exceeded", "invalid_request_error"),
        ("project_spend_limit_exceeded", None),
        (None, "organization_usage_limit_exceeded"),
        ("billing_hard_limit_reached", "invalid_request_error"),
        ("billing_not_active", None),
        (None, "billing_not_active"),
        ("access_terminated", None),
        ("account_deactivated", "invalid_request_error"),
    ],
)
@pytest.mark.hardening_faults
def test_quota_errors_fail_over_without_retrying(rig: Rig, code: str | None, kind: str | None) -> None:
    rig.fake.fail(429, code=code, type=kind, when_key=rig.primary, times=None, retry_after=1)
    provider, _ = rig.provider()
    got = provider.complete(REQ, deadline=soon())
    assert got.key_alias == "secondary"
    assert rig.used() == ["primary", "secondary"]
    assert rig.waits == []


@pytest.mark.hardening_faults
def test_both_keys_rejected_is_an_auth_error_remembered_for_the_run(rig: Rig) -> None:
    rig.fake.fail(401, times=None)
    provider, _ = rig.provider()
    with pytest.raises(AuthError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "both configured keys were rejected (HTTP 401)"
    assert rig.used() == ["primary", "secondary"]
    with pytest.raises(AuthError, match="both configured keys were rejected"):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.requests) == 2  # no request for a run whose keys are all rejected


@pytest.mark.hardening_faults
def test_single_rejected_key_names_the_variable(rig: Rig) -> None:
    rig.fake.fail(401, times=None)
    provider, _ = rig.provider(secondary=False)
    with pytest.raises(AuthError, match=r"primary key was rejected \(HTTP 401\): set a valid OPENAI_API_KEY_PRIMARY"):
        provider.complete(REQ, deadline=soon())


@pytest.mark.hardening_faults
def test_both_keys_out_of_quota(rig: Rig) -> None:
    rig.fake.fail(429, code="insufficient_quota", type="insufficient_quota", times=None)
    provider, _ = rig.provider()
    with pytest.raises(QuotaError, match=r"both configured keys are out of quota \(insufficient_quota\)"):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.requests) == 2


@pytest.mark.hardening_faults
def test_one_rejected_one_out_of_quota(rig: Rig) -> None:
    rig.fake.fail(401, when_key=rig.primary, times=None)
    rig.fake.fail(429, code="insufficient_quota", when_key=rig.secondary, times=None)
    provider, _ = rig.provider()
    with pytest.raises(QuotaError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "no usable API key left (primary: HTTP 401; secondary: insufficient_quota)"


@pytest.mark.hardening_faults
def test_single_key_out_of_quota(rig: Rig) -> None:
    rig.fake.fail(429, code="insufficient_quota", times=None)
    provider, _ = rig.provider(primary=False)
    with pytest.raises(QuotaError, match="the secondary key is out of quota"):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.requests) == 1


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        ("billing_hard_limit_reached", QuotaError, "the primary key is out of quota (billing_hard_limit_reached)"),
        ("billing_not_active", QuotaError, "the primary key is out of quota (billing_not_active)"),
        ("access_terminated", AuthError, "the primary key was rejected (access_terminated)"),
    ],
)
@pytest.mark.hardening_faults
def test_a_billing_429_on_the_only_key_is_never_retried_as_a_rate_limit(
    rig: Rig, code: str, error: type[Exception], words: str
) -> None:
    rig.fake.fail(429, code=code, type="invalid_request_error", times=None, retry_after=0)
    provider, _ = rig.provider(secondary=False)
    with pytest.raises(error) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value).startswith(words)
    assert "rate limited" not in str(info.value)
    assert len(rig.fake.requests) == 1
    assert rig.waits == []


@pytest.mark.hardening_faults
def test_no_key_configured(rig: Rig) -> None:
    provider, _ = rig.provider(primary=False, secondary=False)
    with pytest.raises(NoKeyError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == NO_KEY_MESSAGE
    assert rig.fake.requests == []


@pytest.mark.hardening_faults
def test_concurrent_calls_fail_over_once(rig: Rig) -> None:
    rig.fake.fail(401, when_key=rig.primary, times=None)
    provider, _ = rig.provider()
    results: list[Completion | BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(provider.complete(REQ, deadline=soon()))
        except BaseException as exc:  # collected, asserted below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Completion) and r.key_alias == "secondary" for r in results), results
    assert rig.used().count("secondary") == 4


# -------------------------------------------------------------------------------- model errors
@pytest.mark.hardening_faults
def test_model_not_found_is_a_model_error(rig: Rig) -> None:
    rig.fake.fail(404, code="model_not_found")
    provider, _ = rig.provider()
    with pytest.raises(ModelError, match=r"model 'gpt-4o-mini' not found at http://127\.0\.0\.1:") as info:
        provider.complete(REQ, deadline=soon())
    assert "LLM_MODEL_PRIMARY" in str(info.value)
    assert len(rig.fake.requests) == 1


@pytest.mark.hardening_faults
def test_context_length_is_a_model_error(rig: Rig) -> None:
    rig.fake.fail(400, code="context_length_exceeded", message="This model's maximum context length is 128000 tokens.")
    provider, _ = rig.provider()
    with pytest.raises(ModelError, match="longer than model 'gpt-4o-mini' accepts"):
        provider.complete(REQ, deadline=soon())
    assert len(rig.fake.requests) == 1


@pytest.mark.hardening_faults
def test_other_400_is_a_model_error_with_the_server_reason_scrubbed(rig: Rig) -> None:
    message = f"Invalid schema for response_format 'review'\x1b[31m; key was {rig.primary} and sk-proj-ABCDEFGH1234"
    rig.fake.fail(400, code="invalid_value", message=message)
    provider, _ = rig.provider()
    with pytest.raises(ModelError) as info:
        provider.complete(REQ, deadline=soon())
    text = str(info.value)
    assert text.startswith("the service rejected model 'gpt-4o-mini' (HTTP 400, invalid_value): Invalid schema")
    assert "\x1b" not in text and rig.primary not in text and "ABCDEFGH1234" not in text


# ------------------------------------------------------------------------------ unusable answers
@pytest.mark.hardening_faults
def test_truncated_answer_is_a_bad_answer_carrying_its_usage(rig: Rig) -> None:
    rig.fake.enqueue('{"summary": "par', finish_reason="length", prompt_tokens=50, completion_tokens=200)
    provider, _ = rig.provider()
    with pytest.raises(BadAnswerError, match=r"answer truncated at max_tokens \(200\)") as info:
        provider.complete(REQ, deadline=soon())
    assert isinstance(info.value, UnusableAnswerError)
    assert (info.value.completion.prompt_tokens, info.value.completion.completion_tokens) == (50, 200)
    assert len(rig.fake.requests) == 1  # the same prompt would be cut again: no retry


@pytest.mark.hardening_faults
def test_refusal_is_a_bad_answer(rig: Rig) -> None:
    rig.fake.enqueue(None, refusal="I can't help\nwith that.")
    provider, _ = rig.provider()
    with pytest.raises(BadAnswerError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "model refused: I can't help with that."
    assert len(rig.fake.requests) == 1


@pytest.mark.parametrize(
    ("content", "finish", "message"),
    [
        ("partial", "content_filter", "content filter"),
        ("", "stop", "empty answer"),
        ("x", "tool_calls", "unexpected finish_reason 'tool_calls'"),
    ],
)
@pytest.mark.hardening_faults
def test_other_unusable_answers(rig: Rig, content: str, finish: str, message: str) -> None:
    rig.fake.enqueue(content, finish_reason=finish)
    provider, _ = rig.provider()
    with pytest.raises(UnusableAnswerError, match=message):
        provider.complete(REQ, deadline=soon())


@pytest.mark.hardening_faults
def test_missing_finish_reason_with_content_is_accepted(rig: Rig) -> None:
    rig.fake.enqueue("answer", finish_reason=None)
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).finish_reason == "stop"


@pytest.mark.hardening_faults
def test_payment_required_counts_as_quota(rig: Rig) -> None:
    rig.fake.fail(402, when_key=rig.primary, times=None)
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).key_alias == "secondary"
    assert rig.waits == []


def test_schema_description_is_passed_on(rig: Rig) -> None:
    provider, _ = rig.provider()
    spec = {"name": "review", "schema": SCHEMA, "description": "Findings on changed lines", "strict": False}
    provider.complete(ChatRequest(**{**REQ.__dict__, "json_schema": spec}), deadline=soon())
    assert rig.fake.requests[0].body["response_format"]["json_schema"] == {
        "name": "review",
        "schema": SCHEMA,
        "description": "Findings on changed lines",
        "strict": False,
    }


@pytest.mark.hardening_faults
def test_a_wait_that_overruns_ends_at_the_deadline(rig: Rig) -> None:
    """If a wait ends later than asked (a loaded machine), the next try is not started past the deadline.
    The clock is injected: a request takes no time on it and every wait overruns to 0.3 s."""
    now = [1000.0]

    def overrun(_seconds: float) -> None:
        now[0] += 0.3

    rig.fake.fail(503, retry_after=0.05, times=None)
    provider, _ = rig.provider(sleep=overrun, clock=lambda: now[0])
    before = len(rig.fake.requests)
    with pytest.raises(ServiceUnavailableError) as info:
        provider.complete(REQ, deadline=now[0] + 0.25)
    assert str(info.value) == "service unavailable after 1 try (HTTP 503): the deadline was reached"
    assert info.value.status == 503
    assert len(rig.fake.requests) == before + 1


@pytest.mark.hardening_faults
def test_unresolvable_host_fails_at_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution is faked (no DNS query leaves the machine)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    provider, _ = rig.provider(base_url="https://user:pw@no-such-host.invalid:8443/v1")
    with pytest.raises(ServiceUnavailableError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "cannot reach https://no-such-host.invalid:8443: host name not resolvable"
    assert rig.waits == []


@pytest.mark.hardening_faults
def test_an_unexpected_client_failure_names_only_its_type(rig: Rig) -> None:
    """A key with a character HTTP headers cannot carry makes the SDK raise before sending; the
    error's own text (which may quote the header) is not passed on."""
    rig.primary = "sk-test-" + secrets.token_hex(8) + "é" + secrets.token_hex(8)
    provider, _ = rig.provider(secondary=False)
    with pytest.raises(ProviderError) as info:
        provider.complete(REQ, deadline=soon())
    assert str(info.value) == "the OpenAI client failed (UnicodeEncodeError)"
    assert info.value.__context__ is None
    assert rig.fake.requests == []


def test_close_releases_the_clients(rig: Rig) -> None:
    provider, _ = rig.provider()
    provider.complete(REQ, deadline=soon())
    provider.close()
    assert provider.complete(REQ, deadline=soon()).attempts == 1  # a new client is made on demand
    provider.close()


# --------------------------------------------------------------------------------- list_models
def test_list_models(rig: Rig) -> None:
    provider, _ = rig.provider()
    models = provider.list_models(deadline=soon())
    assert {"gpt-4o-mini", "gpt-4o"} <= set(models) and models == sorted(models)
    assert rig.fake.requests[0].method == "GET" and rig.fake.requests[0].path == "/v1/models"


@pytest.mark.hardening_faults
def test_list_models_fails_over_and_reports_a_wrong_base_url(rig: Rig) -> None:
    rig.fake.fail(401, when_key=rig.primary, times=None, path="/v1/models")
    provider, _ = rig.provider()
    assert "gpt-4o" in provider.list_models(deadline=soon())
    assert rig.used() == ["primary", "secondary"]
    rig.fake.fail(404, path="/v1/models")
    with pytest.raises(ModelError, match="OPENAI_BASE_URL"):
        provider.list_models(deadline=soon())


@pytest.mark.hardening_faults
def test_list_models_retries_a_malformed_list(rig: Rig) -> None:
    rig.fake.malformed(body='{"object": "list"}')
    provider, _ = rig.provider()
    assert "gpt-4o-mini" in provider.list_models(deadline=soon())
    assert len(rig.fake.requests) == 2


# ----------------------------------------------------------------------------------- key safety
def _no_key_in(text: str, *keys: str) -> None:
    for key in keys:
        assert key not in text
        body = key.removeprefix("sk-test-")
        for i in range(0, len(body) - 8):
            assert body[i : i + 8] not in text, "an 8-character piece of a key leaked"


@pytest.mark.hardening_faults
def test_keys_never_appear_in_errors_or_logs(
    rig: Rig, caplog: pytest.LogCaptureFixture, closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/reference.md#http-server, docs/reference.md#provider-faults: no key in str/repr/traceback of any error, and none in DEBUG logs
    (ours, the SDK's, httpx2's). The fake's 401 message echoes the whole key, as a careless gateway might."""
    monkeypatch.setenv("OPENAI_LOG", "debug")
    caplog.set_level(logging.DEBUG)
    scenarios: list[Callable[[], None]] = [
        lambda: rig.fake.fail(401, times=None),
        lambda: rig.fake.fail(429, code="insufficient_quota", times=None),
        lambda: rig.fake.fail(503, times=None),
        lambda: rig.fake.fail(400, message=f"bad request from {rig.primary} / {rig.secondary}"),
        lambda: rig.fake.malformed(times=None, body=f"oops {rig.primary}"),
        lambda: rig.fake.enqueue(None, refusal=f"no, {rig.primary}"),
        lambda: rig.fake.delay(5, times=None),
    ]
    errors: list[BaseException] = []
    for script in scenarios:
        rig.fake.reset()
        script()
        provider, _ = rig.provider(timeout=0.2)
        with pytest.raises(ProviderError) as info:
            provider.complete(REQ, deadline=soon())
        errors.append(info.value)
    provider, _ = rig.provider(base_url=closed_port_url)
    with pytest.raises(ProviderError) as refused:
        provider.complete(REQ, deadline=soon())
    errors.append(refused.value)

    assert len(errors) == 8
    for exc in errors:
        assert exc.__cause__ is None and exc.__context__ is None  # nothing chained from the SDK
        _no_key_in(str(exc) + repr(exc) + "".join(traceback.format_exception(exc)), rig.primary, rig.secondary)
        assert "\n" not in str(exc)
    assert any(r.name.startswith("openai") for r in caplog.records)  # the SDK's DEBUG logs were captured
    _no_key_in(caplog.text, rig.primary, rig.secondary)
    _no_key_in(repr(rig.fake.requests), rig.primary, rig.secondary)


# ------------------------------------------------------------------------------- MockTransport
def test_official_api_via_mock_transport(tmp_path: Path) -> None:
    """docs/reference.md#formats: an httpx2 MockTransport in place of the network; no base_url = the official
    API, which gets `max_completion_tokens`. The primary is out of quota; the secondary answers."""
    import httpx2

    primary, secondary = new_key(), new_key()
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        used = "primary" if request.headers["authorization"] == f"Bearer {primary}" else "secondary"
        seen.append((used, str(request.url), json.loads(request.content)))
        if used == "primary":
            error = {"message": "quota", "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}
            return httpx2.Response(429, request=request, json={"error": error})
        message = {"role": "assistant", "refusal": None, "content": json.dumps({"summary": "ok", "findings": []})}
        usage = {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "total_tokens": 1200,
            "prompt_tokens_details": {"cached_tokens": 500},
        }
        return httpx2.Response(
            200,
            request=request,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": usage,
            },
        )

    settings = Settings(api_key_primary=Secret(primary), api_key_secondary=Secret(secondary), timeout=5)
    keys = KeyRing(settings.api_key_primary, settings.api_key_secondary, tmp_path / "state.json")
    waits: list[float] = []
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
        provider: Provider = OpenAIProvider(settings, keys, sleep=waits.append, http_client=http)
        got = provider.complete(REQ, deadline=soon())
        assert isinstance(provider, OpenAIProvider)
        provider.close()  # leaves the injected client open
        assert not http.is_closed

    assert (got.cached_tokens, got.key_alias, got.attempts) == (500, "secondary", 2)
    assert [s[0] for s in seen] == ["primary", "secondary"]
    assert seen[1][1] == "https://api.openai.com/v1/chat/completions"
    assert seen[1][2]["max_completion_tokens"] == 200 and "max_tokens" not in seen[1][2]
    assert waits == []


@pytest.mark.hardening_faults
def test_a_server_without_usage_is_billed_by_estimate(tmp_path: Path) -> None:
    """Some OpenAI-compatible servers omit `usage` or send odd values: bill a conservative estimate."""
    import httpx2

    bodies: list[dict[str, Any]] = [
        {"usage": None},
        {"usage": {"prompt_tokens": "many", "completion_tokens": None, "total_tokens": 0}},
    ]

    def handler(request: httpx2.Request) -> httpx2.Response:
        message = {"role": "assistant", "content": "x" * 24}
        body: dict[str, Any] = {"id": "x", "object": "chat.completion", "created": 1, "model": "llama3.1:8b"}
        body["choices"] = [{"index": 0, "finish_reason": "stop", "message": message}]
        return httpx2.Response(200, request=request, json={**body, **bodies.pop(0)})

    settings = Settings(api_key_primary=Secret(new_key()), base_url="http://127.0.0.1:11434/v1")
    keys = KeyRing(settings.api_key_primary, None, tmp_path / "state.json")
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
        provider = OpenAIProvider(settings, keys, http_client=http)
        for _ in range(2):
            got = provider.complete(REQ, deadline=soon())
            assert got.prompt_tokens == -(-len(REQ.system + REQ.user) * 5 // 12)  # ceil(chars / 2.4)
            assert (got.completion_tokens, got.cached_tokens, got.model) == (10, 0, "llama3.1:8b")


@pytest.mark.parametrize(
    ("base_url", "shown"),
    [
        (None, "api.openai.com"),
        ("https://user:secret@gateway.example:8443/openai/v1", "https://gateway.example:8443"),
        ("http://[::1]:11434/v1", "http://[::1]:11434"),
        ("http://localhost/v1", "http://localhost"),
    ],
)
def test_the_service_is_named_without_credentials_or_path(base_url: str | None, shown: str) -> None:
    from symphony_assist_hooks.assistant.provider.faults import origin

    assert origin(base_url) == shown


# ------------------------------------------------------------------------------- import weight
def test_importing_the_modules_imports_no_heavy_dependency() -> None:
    """docs/reference.md#hit-path: a cache hit must not pay for openai, httpx2, pydantic or genai-prices."""
    code = (
        "import json, sys\n"
        "import symphony_assist_hooks.assistant.provider, symphony_assist_hooks.assistant.provider.keys\n"
        "import symphony_assist_hooks.assistant.pricing\n"
        "heavy = ('openai', 'httpx2', 'httpx', 'pydantic', 'genai_prices')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.hardening_faults
def test_no_key_fails_without_importing_the_sdk(tmp_path: Path) -> None:
    """A hook with no key configured falls back at once, without paying ~0.5 s for `import openai`."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from symphony_assist_hooks.config import Settings\n"
        "from symphony_assist_hooks.errors import NoKeyError\n"
        "from symphony_assist_hooks.assistant.provider.keys import KeyRing\n"
        "from symphony_assist_hooks.assistant.provider import OpenAIProvider\n"
        "from symphony_assist_hooks.assistant.provider.openai import ChatRequest\n"
        f"keys = KeyRing(None, None, Path({str(tmp_path / 'state.json')!r}))\n"
        "provider = OpenAIProvider(Settings(base_url='http://127.0.0.1:9/v1'), keys)\n"
        "try:\n"
        "    provider.complete(ChatRequest('s', 'u', 'gpt-4o-mini', 0.0, 16), deadline=time.monotonic() + 5)\n"
        "except NoKeyError:\n"
        "    print('openai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------ the fake itself
def test_fake_requires_an_authorization_header(fake_openai: FakeOpenAI) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(fake_openai.url + "/chat/completions", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 401
    assert fake_openai.which_keys() == ["none"]


def test_fake_after_lets_requests_through_first(rig: Rig) -> None:
    rig.fake.fail(500, after=1)
    provider, _ = rig.provider()
    assert provider.complete(REQ, deadline=soon()).attempts == 1
    assert provider.complete(REQ, deadline=soon()).attempts == 2
    assert provider.complete(REQ, deadline=soon()).attempts == 1


def test_fake_schema_example_covers_structured_output_schemas() -> None:
    from fakeserver import schema_example

    schema = {
        "$defs": {
            "Sev": {"enum": ["high", "low"]},
            "Loc": {"type": "object", "properties": {"line": {"type": "integer", "minimum": 1}}},
        },
        "type": "object",
        "properties": {
            "kind": {"const": "review"},
            "severity": {"$ref": "#/$defs/Sev"},
            "where": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Loc"}]},
            "note": {"type": ["string", "null"]},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "both": {"allOf": [{"type": "object"}, {"properties": {"a": {"type": "string"}}}]},
        },
    }
    assert schema_example(schema) == {
        "kind": "review",
        "severity": "high",
        "where": {"line": 1},
        "note": "ok",
        "score": 0,
        "ok": False,
        "tags": ["ok", "ok"],
        "both": {"a": "ok"},
    }
