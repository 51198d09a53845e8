"""Service faults (docs/reference.md#provider-faults), each driven through the real entry point against a chaos server.

Every row runs `symphony-assist review` in a real git repository (or `symphony-assist query`) against
llmock (the chaos server from PyPI) or, for what llmock cannot script (a fault for one key only, a quota
error told by `type`, a refusal, a broken HTTP body), our fake server. Each row checks:

* the behaviour the design promises: retry, key failover, model fallback, or local fallback with one
  reason line (fail open; `--fail-closed` turns the reason into its documented exit code);
* the tries made (requests the server saw) and the reason given, never the time taken: a wait the design
  forbids shows as a request too many or another reason (deadlines are tested on an injected clock in
  tests/assistant/provider/);
* the stats log: the events a later `symphony-assist stats` reads, with the right source and reason;
* the books: nothing left reserved in the ledger, spend equal to the usage the service reported;
* no traceback and no key in anything printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from hardening.support import Books, HookEnv
from llmock.pytest_plugin import LLMock
from llmock.scenarios import Reply
from responders import answering, finding

from symphony_assist_hooks.cli import main

pytestmark = pytest.mark.hardening_faults

SOURCE = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n"
DEADLINE = 10.0


def _answer(*findings: dict[str, Any], item: str = "h1") -> str:
    return json.dumps({"results": [{"id": item, "findings": list(findings)}]})


OK_ANSWER = _answer(finding(2, rule="off-by-one", severity="medium", title="scripted finding"))


@dataclass
class Run:
    code: int
    doc: dict[str, Any]
    out: str
    err: str

    @property
    def api_rules(self) -> list[str]:
        return [f["rule"] for f in self.doc["findings"] if f["source"] == "api"]

    @property
    def reason(self) -> str | None:
        return self.doc["summary"]["fallback_reason"]


def _staged(repo: GitRepo) -> None:
    repo.commit_files({"README.md": "seed\n"})
    repo.write("calc.py", SOURCE)
    repo.add("calc.py")


def review(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    capsys.readouterr()
    code = main(["review", "--format", "json", "--fail-on", "never", *args])
    captured = capsys.readouterr()
    return Run(code, json.loads(captured.out), captured.out, captured.err)


def _clean_output(run: Run, env: HookEnv) -> None:
    text = run.out + run.err
    assert "Traceback" not in text
    for key in env.keys.values():
        assert key not in text
        assert key[-12:] not in text


def _assert_answered(run: Run, books: Books, *, keys: Sequence[str] = ("primary",)) -> None:
    assert run.reason is None, run.reason
    assert run.api_rules == ["off-by-one"]
    assert run.doc["summary"]["api_requests"] == 1
    assert [e["key"] for e in books.requests()] == list(keys)
    assert "local" not in books.sources()
    assert books.sources().count("api") == 2  # one hunk, two templates


def _assert_fell_back(run: Run, books: Books, reason: str) -> None:
    assert run.code == 0  # fail open: a down service never blocks a commit
    assert run.reason is not None and reason in run.reason, run.reason
    assert run.doc["summary"]["local_answers"] == 1
    assert all(f["source"] == "local" for f in run.doc["findings"])
    assert books.reasons() == {run.reason}
    assert books.sources().count("local") == 2  # the hunk, for each template
    assert "api" not in books.sources()
    lines = [ln for ln in run.err.splitlines() if reason in ln]
    assert len(lines) == 1, run.err  # one reason line


# ------------------------------------------------------------------------------------------ llmock
@pytest.fixture
def chaos(llmock: LLMock, hook_env: HookEnv, git_repo: GitRepo) -> LLMock:
    hook_env.point(llmock.base_url("openai"))
    _staged(git_repo)
    return llmock


def test_401_on_the_primary_fails_over_to_the_secondary(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.fail(401).add(Reply(text=OK_ANSWER, times=None))
    run = review(capsys)
    _assert_answered(run, books, keys=["secondary"])
    assert [r.status for r in chaos.requests] == [401, 200]
    books.assert_settled()
    _clean_output(run, hook_env)
    # No llmock verdict here: it reads the two attempts as a retried 401 (it cannot see that the key changed).


@pytest.mark.parametrize("status", [401, 403])
def test_both_keys_rejected_is_one_clear_line_and_a_local_review(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    chaos.fail(status, times=None)
    run = review(capsys)
    _assert_fell_back(run, books, f"both configured keys were rejected (HTTP {status})")
    assert [r.status for r in chaos.requests] == [status, status]  # each key once, never retried
    assert books.assert_settled() == 0
    assert review(capsys, "--no-cache", "--fail-closed").code == 4
    _clean_output(run, hook_env)


def test_a_single_rejected_key_names_its_variable(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.single_key()
    chaos.fail(403, times=None)
    run = review(capsys)
    _assert_fell_back(run, books, "the primary key was rejected (HTTP 403): set a valid OPENAI_API_KEY_PRIMARY")
    assert len(chaos.requests) == 1
    books.assert_settled()


def test_429_with_retry_after_is_honoured_then_answered(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.rate_limit(times=2, retry_after=0.2).add(Reply(text=OK_ANSWER, times=None))
    run = review(capsys)
    _assert_answered(run, books)
    statuses = [r.status for r in chaos.requests]
    assert statuses == [429, 429, 200]
    gaps = [b.started_at - a.ended_at for a, b in zip(chaos.requests, chaos.requests[1:], strict=False)]
    assert all(g >= 0.18 for g in gaps), gaps  # waited what the server asked, each time
    books.assert_settled()
    chaos.assert_resilient(strict=True)


def test_429_asking_for_longer_than_the_deadline_falls_back_at_once(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.rate_limit(times=None, retry_after=300)
    run = review(capsys)
    _assert_fell_back(run, books, "it asks to wait 300 s")
    # never sleeps minutes inside a git hook: it gave up at the first answer (asleep, it would ask again)
    assert len(chaos.requests) == 1
    books.assert_settled()


def test_insufficient_quota_is_never_retried_and_fails_over(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.fail(429, code="insufficient_quota", times=None)
    run = review(capsys)
    _assert_fell_back(run, books, "both configured keys are out of quota (insufficient_quota)")
    assert [r.status for r in chaos.requests] == [429, 429]  # one try per key: the SDK would make 3 each
    books.assert_settled()
    assert review(capsys, "--no-cache", "--fail-closed").code == 4


@pytest.mark.parametrize(("status", "times"), [(500, 1), (502, 2), (503, 2), (504, 1)])
def test_transient_5xx_is_retried_then_answered(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str], status: int, times: int
) -> None:
    chaos.fail(status, times=times, retry_after=0.05).add(Reply(text=OK_ANSWER, times=None))
    run = review(capsys)
    _assert_answered(run, books)
    assert [r.status for r in chaos.requests] == [status] * times + [200]
    books.assert_settled()
    chaos.assert_resilient(strict=True)


def test_an_outage_tries_the_fallback_model_then_reviews_locally(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.fail(503, times=None, retry_after=0.05)
    run = review(capsys)
    _assert_fell_back(run, books, "service unavailable after 3 tries (HTTP 503)")
    models = [r.model for r in chaos.requests]
    assert models == ["gpt-4o-mini"] * 3 + ["gpt-4o"] * 3
    books.assert_settled()
    _clean_output(run, hook_env)
    hook_env.set(DEADLINE="3")
    assert review(capsys, "--no-cache", "--fail-closed").code == 4


def test_a_server_slower_than_the_timeout_is_retried_then_given_up(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.set(TIMEOUT="0.2")
    chaos.delay(1, times=None)  # then answered: a request not cut off at 0.2 s would be answered, no fallback
    run = review(capsys)
    _assert_fell_back(run, books, "service unavailable after 3 tries (timed out after 0.2 s)")
    assert len(chaos.requests) == 3
    books.assert_settled()


def test_a_slow_first_byte_within_the_timeout_is_fine(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.set(TIMEOUT="3")
    chaos.delay(0.4).add(Reply(text=OK_ANSWER, times=None))
    run = review(capsys)
    _assert_answered(run, books)
    assert len(chaos.requests) == 1
    books.assert_settled()


def test_the_deadline_bounds_a_hanging_service(
    chaos: LLMock, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.set(TIMEOUT="30", DEADLINE="3")  # 3 s: the request is sent after the review's start-up (~2 s here)
    chaos.delay(5, times=None)  # short: the server holds each request this long, even after the test
    run = review(capsys)
    assert run.code == 0
    # Either the request was cut off at the deadline ("...: no time left before the deadline") or, on a machine
    # too busy to send it in time, it was never sent ("deadline of 3s reached"). A request sent with the 30 s
    # timeout would be answered after the 5 s delay: no fallback reason at all.
    assert run.reason is not None and "deadline" in run.reason, run.reason
    assert "api" not in books.sources()
    assert books.reasons() == {run.reason}
    books.assert_settled()


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (lambda m: m.context_overflow(), "context"),
        (lambda m: m.fail(404, code="model_not_found"), "not found"),
    ],
    ids=["context-length", "model-not-found"],
)
def test_a_model_error_is_answered_by_the_fallback_model(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str], script: Callable[[LLMock], Any], reason: str
) -> None:
    script(chaos)
    chaos.add(Reply(text=OK_ANSWER, times=None))
    run = review(capsys)
    assert run.reason is None
    assert run.api_rules == ["off-by-one"]
    assert [(r.status, r.model) for r in chaos.requests] == [(400 if reason == "context" else 404, "gpt-4o-mini"),
                                                              (200, "gpt-4o")]  # fmt: skip
    assert {e["model"] for e in books.requests()} == {"gpt-4o"}
    books.assert_settled()


def test_both_models_rejecting_the_prompt_falls_back_with_the_reason(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.context_overflow(times=None)
    run = review(capsys)
    _assert_fell_back(run, books, "the prompt is longer than model 'gpt-4o' accepts")
    assert len(chaos.requests) == 2
    books.assert_settled()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"results": [{"id": "h1", "findings": [', "not valid JSON"),  # truncated
        ("{'results': []}", "not valid JSON"),  # not JSON at all
        ('{"verdict": 3}', "no 'results' list"),  # the wrong schema
        ('{"results": {"id": "h1"}}', "no 'results' list"),
    ],
    ids=["truncated-json", "python-repr", "wrong-schema", "results-not-a-list"],
)
def test_an_unusable_answer_is_billed_and_reviewed_locally(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    chaos.add(Reply(text=text, times=None))
    run = review(capsys)
    _assert_fell_back(run, books, reason)
    assert len(chaos.requests) == 1  # the model answered: asking again would pay twice for the same prompt
    assert books.assert_settled() > 0  # it was billed, and the ledger says so
    assert len(books.requests()) == 1


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("length", "answer truncated at max_tokens"), ("content_filter", "content filter")],
)
def test_a_cut_or_filtered_answer_is_billed_and_reviewed_locally(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str], finish: str, reason: str
) -> None:
    chaos.add(Reply(text=OK_ANSWER, finish_reason=finish, times=None))
    run = review(capsys)
    _assert_fell_back(run, books, reason)
    assert run.reason is not None and run.reason.startswith("the model's answer could not be used: ")
    assert run.reason.endswith("(1 of 1 items dropped)") and run.doc["summary"]["dropped"] == 1
    assert len(chaos.requests) == 1
    assert books.assert_settled() > 0
    assert [e["source"] for e in books.events()].count("request") == 1  # stats spend == ledger spend
    run = review(capsys)  # nothing partial was cached
    assert len(chaos.requests) == 2


def test_an_answer_for_unknown_items_is_not_trusted(
    chaos: LLMock, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.add(Reply(text=_answer(finding(1), item="h7"), times=None))
    run = review(capsys)
    _assert_fell_back(run, books, "the model's answer did not match the request (1 of 1 items unmatched)")
    assert run.doc["summary"]["dropped"] == 1  # called what it is, and counted (#18)
    assert books.assert_settled() > 0  # still billed: the provider charged for it


# ------------------------------------------------------------------------------------- fake server
@pytest.fixture
def fake(fake_openai: FakeOpenAI, hook_env: HookEnv, git_repo: GitRepo) -> FakeOpenAI:
    hook_env.point(fake_openai.url)
    _staged(git_repo)
    return fake_openai


def _billed(fake: FakeOpenAI) -> list[tuple[str, int, int]]:
    return [(r.body["model"], 1000, 50) for r in fake.chat_requests]


def test_a_key_rejected_only_for_itself_fails_over_once_per_run(
    fake: FakeOpenAI, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail(401, times=None, when_key=hook_env.keys["primary"])
    fake.enqueue(OK_ANSWER, prompt_tokens=1000, completion_tokens=50)
    run = review(capsys)
    _assert_answered(run, books, keys=["secondary"])
    assert fake.which_keys(**hook_env.keys) == ["primary", "secondary"]
    books.assert_settled(billed=[("gpt-4o-mini", 1000, 50)])
    _clean_output(run, hook_env)  # the fake's 401 body quotes the whole key it was sent


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (None, "insufficient_quota"),
        ("credit_balance_exhausted", "invalid_request_error"),
        ("organization_spend_limit_exceeded", None),
        ("project_spend_limit_exceeded", None),
        ("organization_usage_limit_exceeded", None),
        ("billing_hard_limit_reached", "invalid_request_error"),
        ("billing_not_active", None),
        ("access_terminated", None),
    ],
)
def test_every_billing_error_fails_over_without_a_retry(
    fake: FakeOpenAI,
    books: Books,
    hook_env: HookEnv,
    capsys: pytest.CaptureFixture[str],
    code: str | None,
    kind: str | None,
) -> None:
    fake.fail(429, code=code, type=kind, times=None, when_key=hook_env.keys["primary"])
    fake.enqueue(OK_ANSWER, prompt_tokens=1000, completion_tokens=50)
    run = review(capsys)
    _assert_answered(run, books, keys=["secondary"])
    assert fake.which_keys(**hook_env.keys) == ["primary", "secondary"]
    books.assert_settled(billed=[("gpt-4o-mini", 1000, 50)])


def test_a_billing_hard_limit_on_the_only_key_falls_back_at_once_with_its_reason(
    fake: FakeOpenAI, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.single_key()
    fake.fail(429, code="billing_hard_limit_reached", type="invalid_request_error", times=None, retry_after=0)
    run = review(capsys)
    _assert_fell_back(run, books, "the primary key is out of quota (billing_hard_limit_reached)")
    assert "rate limited" not in run.err
    assert len(fake.chat_requests) == 1  # not retried: waiting does not pay a bill
    books.assert_settled()
    assert review(capsys, "--no-cache", "--fail-closed").code == 4


def test_an_unexpected_client_failure_falls_back_instead_of_blocking_the_commit(
    fake: FakeOpenAI, books: Books, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.single_key()
    hook_env.set(OPENAI_API_KEY_PRIMARY=hook_env.keys["primary"] + "\u00e9")  # no HTTP header can carry it
    run = review(capsys)
    _assert_fell_back(run, books, "the OpenAI client failed (UnicodeEncodeError)")
    assert fake.chat_requests == []
    books.assert_settled()
    assert review(capsys, "--no-cache", "--fail-closed").code == 4


def test_a_refusal_is_a_notice_billed_once_and_never_retried(
    fake: FakeOpenAI, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.enqueue(None, refusal="I can't help with reviewing this code.", prompt_tokens=900, completion_tokens=12)
    run = review(capsys)
    _assert_fell_back(run, books, "model refused: I can't help with reviewing this code.")
    assert run.doc["summary"]["dropped"] == 1
    assert len(fake.chat_requests) == 1
    books.assert_settled(billed=[("gpt-4o-mini", 900, 12)])


@pytest.mark.parametrize(
    "body",
    ['{"id": "chatcmpl-1", "choices": [{"message": {"content": "{\\"res', "<html>502 Bad Gateway</html>", ""],
    ids=["cut-json", "html", "empty"],
)
def test_a_broken_http_body_is_retried_then_answered(
    fake: FakeOpenAI, books: Books, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    fake.malformed(body=body, times=2)
    fake.enqueue(OK_ANSWER, prompt_tokens=1000, completion_tokens=50)
    run = review(capsys)
    _assert_answered(run, books)
    assert len(fake.chat_requests) == 3
    books.assert_settled(billed=[("gpt-4o-mini", 1000, 50)])


def test_a_body_that_stays_broken_is_a_bad_answer(
    fake: FakeOpenAI, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.malformed(body="{not json", times=None)
    run = review(capsys)
    _assert_fell_back(run, books, "malformed responses")
    assert len(fake.chat_requests) == 3
    assert books.assert_settled() == 0


def test_a_dropped_connection_is_retried(fake: FakeOpenAI, books: Books, capsys: pytest.CaptureFixture[str]) -> None:
    fake.drop(times=1)
    fake.enqueue(OK_ANSWER, prompt_tokens=1000, completion_tokens=50)
    run = review(capsys)
    _assert_answered(run, books)
    assert len(fake.chat_requests) == 2
    books.assert_settled(billed=[("gpt-4o-mini", 1000, 50)])


def test_connection_refused_falls_back_at_once(
    git_repo: GitRepo, hook_env: HookEnv, books: Books, closed_port_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_env.point(closed_port_url)
    _staged(git_repo)
    run = review(capsys)
    _assert_fell_back(run, books, "connection refused")
    # refused once, not retried: a retried refusal reads "service unavailable after 3 tries (cannot reach ...)"
    assert run.reason == f"cannot reach {closed_port_url.removesuffix('/v1')}: connection refused"
    assert books.assert_settled() == 0
    assert review(capsys, "--no-cache", "--fail-closed").code == 4


def test_findings_on_lines_that_do_not_exist_are_dropped_and_counted(
    fake: FakeOpenAI, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    def invented(item_id: str, label: str, content: str) -> list[dict[str, Any]]:
        bad = [finding(n, rule=f"ghost-{n}") for n in (0, 7, 9999, 2**40)]  # the hunk has lines 1-6
        backwards = {**finding(3, rule="backwards"), "end_line": 1}  # kept, with end_line >= line
        return [*bad, finding(2, rule="real"), backwards]

    fake.responder = answering(findings=invented)
    run = review(capsys, "--format", "sarif=out.sarif")
    rules = sorted(run.api_rules)
    assert rules == ["backwards", "real"]
    assert run.doc["summary"]["dropped"] >= 3
    lines = {f["rule"]: (f["line"], f["end_line"]) for f in run.doc["findings"]}
    assert lines["real"] == (2, 2)
    assert lines["backwards"][0] <= lines["backwards"][1]
    sarif = json.loads(Path("out.sarif").read_text(encoding="utf-8"))
    located = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in sarif["runs"][0]["results"]]
    assert all(1 <= n <= SOURCE.count("\n") for n in located)
    books.assert_settled()


def test_a_query_fault_is_one_line_and_its_exit_code(
    fake_openai: FakeOpenAI,
    hook_env: HookEnv,
    books: Books,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    hook_env.point(fake_openai.url)
    hook_env.single_key()
    fake_openai.fail(429, type="insufficient_quota", times=None)
    assert main(["query", "what is a mutex?"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of quota" in err[0], err
    assert len(fake_openai.chat_requests) == 1
    assert books.reasons() == {"the primary key is out of quota (insufficient_quota): add credit, raise the spend "
                               "limit or configure another key"}  # fmt: skip
    books.assert_settled()
