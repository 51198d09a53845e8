"""The explain use case: normalising, trimming, secret replacement, batching, caching, local fallback."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI

from symphony_assist_hooks.assistant import Assistant
from symphony_assist_hooks.config import Settings, load_settings
from symphony_assist_hooks.errors import SecretScanError
from symphony_assist_hooks.explain import requests as explain
from symphony_assist_hooks.explain.requests import ITEM_TOKENS, explain_failures, failure_content, normalize
from symphony_assist_hooks.findings import Failure

ROOT = "/home/dev/project"

LONGREPR = """\
test_calc.py:12: in test_total
    assert total([1, 2]) == 4
E   AssertionError: assert 3 == 4
E    +  where 3 = total([1, 2])"""


def _failure(**changes: Any) -> Failure:
    base = Failure(
        test_id="test_calc.py::test_total",
        when="call",
        longrepr=LONGREPR,
        path="test_calc.py",
        line=12,
        exc_type="AssertionError",
        test_source="def test_total():\n    assert total([1, 2]) == 4\n",
        code_under_test="# calc.py:1 (total)\ndef total(xs):\n    return sum(xs[:-1]) + 1\n",
    )
    return replace(base, **changes)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "assist-cache"))


# ------------------------------------------------------------------------------------------ normalize
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<object object at 0x7f5a739a6a60>", "<object object at 0x…>"),
        ("<Foo at 0x1f2e>", "<Foo at 0x…>"),
        ("/tmp/pytest-of-root/pytest-12/test_x0/data.txt", "<tmp>/test_x0/data.txt"),
        ("C:/Users/a/AppData/Local/Temp/pytest-of-a/pytest-3/t0", "<tmp>/t0"),
        ("/tmp/tmpab12cd_x/out.json", "<tmp>/out.json"),
        ("took 0.123s, finished in 5s", "took <duration>, finished in <duration>"),
        ("elapsed 12.5 ms", "elapsed <duration>"),
        ("worker pid=12345 process 99", "worker pid=… process …"),
        (
            "refused: 127.0.0.1:54321 and localhost:41000, port=50001",
            "refused: 127.0.0.1:<port> and localhost:<port>, port=<port>",
        ),
        ("id(obj) is 140234567890123", "id(obj) is <n>"),
        ("at 2026-11-23T10:11:12.123Z", "at <time>"),
        (f"{ROOT}/src/calc.py:3: in total", "src/calc.py:3: in total"),
        ("/venv/lib/python3.11/site-packages/requests/api.py", "site-packages/requests/api.py"),
        ("[gw1] linux -- Python 3.11.7 /usr/bin/python\nE   boom", "E   boom"),
    ],
)
def test_normalize_replaces_what_changes_between_runs(raw: str, expected: str) -> None:
    assert normalize(raw, ROOT) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "assert 0xFF == 0xdeadbeef",  # constants, not addresses
        "assert add(2, 3) == 5",
        "localhost:8080",  # a fixed, configured port
        "assert 1.5 == 2",  # a number without a unit
        "timeout=30",
    ],
)
def test_normalize_keeps_values_that_belong_to_the_code(kept: str) -> None:
    assert normalize(kept, ROOT) == kept


def test_normalize_replaces_a_given_basetemp() -> None:
    text = "/ci/tmp/run-7/test_a0/file.txt"
    assert normalize(text, ROOT, volatile=["/ci/tmp/run-7"]) == "<tmp>/test_a0/file.txt"


# ------------------------------------------------------------------------------------------ content
def test_content_has_every_part() -> None:
    content = failure_content(_failure(), root=ROOT, environ={})

    assert "phase: call" in content and "exception: AssertionError" in content
    assert "file: test_calc.py" in content
    assert "--- assertion / error ---\nE   AssertionError: assert 3 == 4\nE    +  where 3 = total([1, 2])" in content
    assert "--- traceback (end) ---\ntest_calc.py: in test_total" in content
    assert "--- code under test ---\n# calc.py (total)\ndef total(xs):" in content
    assert "--- test source ---\ndef test_total():" in content


def test_the_same_failure_in_another_run_gives_the_same_content() -> None:
    first = _failure(longrepr=LONGREPR + "\nE    +  and <Obj at 0x7f0011223344> in 0.51s /tmp/pytest-of-ci/pytest-1/t0")
    second = _failure(
        longrepr=LONGREPR + "\nE    +  and <Obj at 0x7fa0b1c2d3e4> in 2.07s /tmp/pytest-of-ci/pytest-9/t0"
    )
    assert failure_content(first, root=ROOT, environ={}) == failure_content(second, root=ROOT, environ={})


def test_a_failure_that_only_moved_gives_the_same_content() -> None:
    """An edit above the test or the code under test shifts line numbers, not the failure."""
    moved = _failure(
        longrepr=LONGREPR.replace("test_calc.py:12:", "test_calc.py:15:"),
        line=15,
        code_under_test="# calc.py:4 (total)\ndef total(xs):\n    return sum(xs[:-1]) + 1\n",
    )
    assert failure_content(moved, root=ROOT, environ={}) == failure_content(_failure(), root=ROOT, environ={})


def test_changed_code_gives_other_content() -> None:
    before = failure_content(_failure(), root=ROOT, environ={})
    after = failure_content(
        _failure(code_under_test="# calc.py:1 (total)\ndef total(xs):\n    return sum(xs)\n"), root=ROOT, environ={}
    )
    assert before != after


def test_source_code_is_not_normalised() -> None:
    source = "def test_t():\n    assert parse('0x7f5a739a6a60 took 0.5s') is None\n"
    assert source.strip() in failure_content(_failure(test_source=source), root=ROOT, environ={})


def test_long_tracebacks_keep_their_end_and_the_introspection_its_start() -> None:
    frames = "\n".join(f"lib.py:{i}: in f{i}\n    return f{i + 1}()" for i in range(2000))
    diff = "\n".join(f"E     - line {i}" for i in range(2000))
    longrepr = f"{frames}\nlib.py:9999: in innermost\n    raise Boom()\nE   AssertionError: big diff\n{diff}"
    content = failure_content(_failure(longrepr=longrepr, test_source="x" * 50_000), root=ROOT, environ={})

    assert len(content) <= ITEM_TOKENS * 2.4
    assert "lib.py: in innermost" in content  # the end of the traceback
    assert "in f0\n" not in content
    assert "earlier lines cut" in content
    assert "E   AssertionError: big diff\nE     - line 0" in content  # the start of the introspection
    assert "more lines cut" in content
    assert "# calc.py (total)" in content  # the code under test survives a huge test source


def test_short_parts_leave_their_share_to_the_others() -> None:
    frames = "\n".join(f"lib.py:{i}: in f{i}" for i in range(3000))
    content = failure_content(_failure(longrepr=frames, test_source="", code_under_test=""), root=ROOT, environ={})
    assert len(content) > ITEM_TOKENS * 2.4 * 0.8


@pytest.mark.hardening_hostile_input
def test_secret_environment_values_are_replaced_everywhere() -> None:
    value = secrets.token_urlsafe(18)
    failure = _failure(
        longrepr=LONGREPR + f"\nE   where token = '{value}'",
        test_source=f"def test_total():\n    assert login('{value}')\n",
        code_under_test=f"# calc.py:1 (login)\nTOKEN = '{value}'\n",
    )
    content = failure_content(failure, root=ROOT, environ={"SERVICE_API_TOKEN": value, "HOME": "/home/dev"})
    assert value not in content
    assert content.count("[REDACTED:env-value]") == 3


# ------------------------------------------------------------------------------------------ explain
@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return load_settings({"offline": True}, env={"SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path)}, cwd=tmp_path)


@pytest.fixture
def online(tmp_path: Path, fake_openai: FakeOpenAI) -> tuple[Settings, FakeOpenAI]:
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        user = request["messages"][-1]["content"]
        ids = [line.split()[1] for line in user.splitlines() if line.startswith("## ")]
        return {"results": [{"id": i, "category": "assertion-mismatch", "explanation": f"why {i}",
                             "fix": f"fix {i}"} for i in ids]}  # fmt: skip

    fake_openai.responder = answer
    env = {
        "OPENAI_API_KEY": "sk-test-" + secrets.token_hex(16),
        "OPENAI_BASE_URL": fake_openai.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
    }
    return load_settings({}, env=env, cwd=tmp_path), fake_openai


def test_offline_answers_come_from_the_local_classifier(offline: Settings) -> None:
    failures = [_failure(), _failure(test_id="test_calc.py::test_other", when="setup")]
    result = explain_failures(failures, offline, root=ROOT, environ={})

    report = result.report
    assert [e.test_id for e in report.explanations] == ["test_calc.py::test_total", "test_calc.py::test_other (setup)"]
    assert {e.source for e in report.explanations} == {"local"}
    assert report.explanations[0].category == "assertion-mismatch"
    assert report.explanations[0].path == "test_calc.py" and report.explanations[0].line == 12
    assert report.local_answers == 2 and report.api_requests == 0
    assert report.fallback_reason is not None and "offline" in report.fallback_reason
    assert report.kind == "pytest"
    assert result.not_explained == ()


def test_failures_beyond_the_limit_are_listed(offline: Settings) -> None:
    failures = [_failure(test_id=f"t.py::test_{i}") for i in range(4)]
    result = explain_failures(failures, offline, max_failures=1, environ={})

    assert [e.test_id for e in result.report.explanations] == ["t.py::test_0"]
    assert result.not_explained == ("t.py::test_1", "t.py::test_2", "t.py::test_3")
    assert result.report.skipped == {"not explained, in 3 more group(s) (--assist-max-failures 1 counts groups)": 3}


def test_one_request_for_all_then_each_from_the_cache(online: tuple[Settings, FakeOpenAI]) -> None:
    settings, fake = online
    failures = [_failure(test_id=f"t.py::test_{i}", code_under_test=f"def f{i}(): ...") for i in range(3)]

    first = explain_failures(failures, settings, root=ROOT, environ={})
    assert [e.source for e in first.report.explanations] == ["api"] * 3
    assert [e.explanation for e in first.report.explanations] == ["why f1", "why f2", "why f3"]
    assert first.report.api_requests == 1 and len(fake.chat_requests) == 1

    # one failure changed, one is gone: only the changed one is sent, alone
    again = [failures[0], _failure(test_id="t.py::test_1", code_under_test="def f1(): return 1")]
    second = explain_failures(again, settings, root=ROOT, environ={})
    assert [e.source for e in second.report.explanations] == ["cache", "api"]
    assert second.report.cache_hits == 1 and len(fake.chat_requests) == 2
    assert fake.chat_requests[1].body["messages"][-1]["content"].count("\n## ") == 1


def test_a_given_assistant_is_used_and_left_open(online: tuple[Settings, FakeOpenAI]) -> None:
    settings, fake = online
    assistant = Assistant(settings)
    try:
        explain_failures([_failure()], settings, assistant=assistant, environ={})
        result = explain_failures([_failure()], settings, assistant=assistant, environ={})
        assert result.report.explanations[0].source == "cache"
    finally:
        assistant.close()
    assert len(fake.chat_requests) == 1


@pytest.mark.hardening_hostile_input
def test_a_failed_secret_scan_sends_nothing(
    online: tuple[Settings, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, fake = online

    def broken(text: str, environ: Any = None) -> str:
        raise SecretScanError("secret scan failed: ValueError; nothing was sent")

    monkeypatch.setattr("symphony_assist_hooks.explain.requests.redact_env_values", broken)  # where it is looked up
    result = explain_failures([_failure()], settings, environ={})

    assert fake.requests == []
    assert result.report.explanations[0].source == "local"
    assert result.report.fallback_reason == "secret scan failed: ValueError; nothing was sent"


@pytest.mark.hardening_faults
def test_an_unknown_template_falls_back_with_the_reason(online: tuple[Settings, FakeOpenAI]) -> None:
    settings, fake = online
    result = explain_failures([_failure()], settings, template="nope", environ={})

    assert fake.requests == []
    assert result.report.explanations[0].source == "local"
    assert "unknown template 'nope'" in (result.report.fallback_reason or "")


@pytest.mark.hardening_faults
def test_a_crashing_classifier_still_gives_an_honest_answer(offline: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(failure: Failure, root: str | None = None) -> dict[str, str]:
        raise RuntimeError("bug")

    monkeypatch.setattr(explain, "local_explanation", crash)
    result = explain_failures([_failure()], offline, environ={})

    e = result.report.explanations[0]
    assert e.source == "local" and e.category == "other"
    assert "AssertionError" in e.explanation and "assert 3 == 4" in e.explanation
    assert result.report.notices == ("local classifier failed (RuntimeError): minimal answers given",)


@pytest.mark.hardening_faults
def test_a_fault_inside_the_assistant_still_gives_local_answers(
    online: tuple[Settings, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _fake = online

    def broken(self: Assistant, request: Any, fallback: Any = None) -> Any:
        raise RuntimeError("core bug")

    monkeypatch.setattr(Assistant, "ask", broken)
    result = explain_failures([_failure()], settings, environ={})

    assert result.report.explanations[0].source == "local"
    assert result.report.fallback_reason == "assistant failed (RuntimeError: core bug)"


# ------------------------------------------------------------------------------------------ groups and suspects
def _suspect(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "path": "calc.py", "func": "total", "first": 1, "line": 2, "lines": [2], "changed": [2],
        "why": "changed since HEAD", "source": "def total(xs):\n    return sum(xs[:-1]) + 1\n",
        "diff": "@@ -2 +2 @@ def total(xs):\n-    return sum(xs)\n+    return sum(xs[:-1]) + 1",
    }  # fmt: skip
    return {**base, **changes}


def test_failures_sharing_a_cause_are_one_group() -> None:
    param = [_failure(test_id=f"t.py::test_total[{i}]") for i in range(3)]
    same_frame = _failure(test_id="t.py::test_other", suspects=(_suspect(),))
    linked = replace(param[0], suspects=(_suspect(),))  # links test_total to test_other
    key_error = [
        _failure(test_id=f"t.py::test_lookup_{i}", exc_type="KeyError", longrepr=f"E   KeyError: 'user-{i}'")
        for i in range(2)
    ]
    unrelated = _failure(test_id="t.py::test_alone", exc_type="AssertionError", longrepr="E   assert 1 == 2")

    groups = explain.group_failures([linked, *param[1:], same_frame, *key_error, unrelated])

    assert [len(g.failures) for g in groups] == [4, 2, 1]
    assert groups[0].tests() == ["test_total", "test_other"]
    assert groups[1].lead.test_id == "t.py::test_lookup_0"  # KeyError with the same message shape


def test_assertion_messages_alone_do_not_group_different_tests() -> None:
    a = _failure(test_id="t.py::test_a", longrepr="E   assert 1 == 2")
    b = _failure(test_id="t.py::test_b", longrepr="E   assert 3 == 4")
    assert len(explain.group_failures([a, b])) == 2


def test_the_content_carries_the_suspect_code_marked_and_its_diff_redacted() -> None:
    value = secrets.token_urlsafe(18)
    source = f"def total(xs):\n    key = '{value}'\n    return sum(xs[:-1]) + 1\n"
    failure = _failure(suspects=(_suspect(source=source, lines=[3], line=3, changed=[3]),))
    content = failure_content(failure, root=ROOT, environ={"SERVICE_API_TOKEN": value})

    assert "--- suspect code in the project (>> marks the suspect lines) ---" in content
    assert "# calc.py (total): changed since HEAD" in content
    assert ">>     return sum(xs[:-1]) + 1" in content
    assert "-    return sum(xs)\n+    return sum(xs[:-1]) + 1" in content
    assert "@@ -2" not in content  # hunk line numbers left out: a moved function still hits the cache
    assert "--- code under test ---" not in content  # the suspect is the frame's source
    assert value not in content and "[REDACTED:env-value]" in content


def test_a_long_suspect_function_is_cut_to_the_lines_around_its_suspect_lines() -> None:
    body = [f"    step_{i} = {i}\n" for i in range(40)]
    source = "def long(xs):\n" + "".join(body) + "    return step_39\n"
    suspect = _suspect(source=source, first=1, line=42, lines=[42], changed=[], diff="", func="long")
    content = failure_content(_failure(suspects=(suspect,)), root=ROOT, environ={})

    code = content.split("--- suspect code in the project (>> marks the suspect lines) ---\n")[1]
    assert code.startswith("# calc.py (long): changed since HEAD\n   def long(xs):\n   …\n")  # the def, then a gap
    assert ">>     return step_39" in code
    assert "step_28 = 28" in code and "step_27 = 27" not in code  # twelve lines of context above it


def test_an_item_the_model_left_out_gets_a_local_answer(online: tuple[Settings, FakeOpenAI]) -> None:
    settings, fake = online
    answer_all = fake.responder
    assert answer_all is not None

    def answer_first(request: dict[str, Any]) -> dict[str, Any]:
        full = answer_all(request)
        return {"results": full["results"][:1]}

    fake.responder = answer_first
    failures = [_failure(test_id=f"t.py::test_{i}", code_under_test=f"def f{i}(): ...") for i in range(2)]
    result = explain_failures(failures, settings, root=ROOT, environ={})

    assert [e.source for e in result.report.explanations] == ["api", "local"]
    assert result.report.explanations[1].category == "assertion-mismatch"  # the local classifier's answer
    assert result.report.local_answers == 1 and len(fake.chat_requests) == 1


@pytest.mark.hardening_faults
def test_a_fault_while_preparing_the_items_sends_nothing(
    online: tuple[Settings, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, fake = online

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(explain, "failure_content", broken)
    result = explain_failures([_failure()], settings, environ={})

    assert fake.requests == []
    assert result.report.explanations[0].source == "local"
    assert result.report.fallback_reason == "could not prepare the failures (RuntimeError: bug); nothing was sent"


@pytest.mark.hardening_faults
def test_a_classifier_crashing_on_every_failure_is_noticed_once(
    offline: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(failure: Failure, root: str | None = None) -> dict[str, str]:
        raise RuntimeError("bug")

    monkeypatch.setattr(explain, "local_explanation", crash)
    failures = [_failure(test_id="t.py::test_a"), _failure(test_id="t.py::test_b", longrepr="E   assert 5 == 6")]
    result = explain_failures(failures, offline, environ={})

    assert [e.category for e in result.report.explanations] == ["other", "other"]
    assert result.report.notices == ("local classifier failed (RuntimeError): minimal answers given",)
