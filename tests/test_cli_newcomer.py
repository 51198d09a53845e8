"""The commands a new user types first, as README and the seed's documentation write them (issue 21)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering, items_of

from symphony_assist_hooks.cli import build_parser, main

# The minimal positional arguments each subcommand needs to parse.
_POSITIONALS = {"switch-key": ["primary"], "cache": ["info"]}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _global_options() -> list[argparse.Action]:
    """The main parser's options other than --help and --version: the ones every subcommand accepts."""
    parser = build_parser()
    return [
        a
        for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction | argparse._VersionAction)
    ]


@pytest.fixture
def env(keyed: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.chdir(tmp_path)
    keyed.responder = answering(answer=lambda q: f"answer to: {q}")
    return keyed


def test_batch_with_shared_instruction_is_one_request_and_each_answer_cached_alone(
    env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "queries.txt"
    lines = ["def f(x): return eval(x)", "for i in range(len(xs)): print(xs[i])", "import os, sys"]
    batch.write_text("\n".join(lines) + "\n")
    assert main(["query", "Batch analysis", "--batch-file", str(batch), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert len(docs) == 3
    assert len(env.chat_requests) == 1
    sent = items_of(env.chat_requests[0].body)
    assert [content.splitlines()[-1] for _, _, content in sent] == lines
    assert all(content.startswith("Batch analysis") for _, _, content in sent)  # the instruction goes with each
    assert all(d["cached"] is False for d in docs)
    # One line alone, under the same instruction, is answered from the cache: no new request.
    one = tmp_path / "one.txt"
    one.write_text(lines[1] + "\n")
    assert main(["query", "Batch analysis", "--batch-file", str(one), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [d["cached"] for d in again] == [True]
    assert again[0]["content"] == docs[1]["content"]
    assert len(env.chat_requests) == 1
    # Another instruction is another question: asked again.
    assert main(["query", "Explain", "--batch-file", str(one), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["cached"] is False
    assert len(env.chat_requests) == 2


def test_batch_text_output_shows_each_line_once(
    env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "queries.txt"
    batch.write_text("first question\nsecond question\n")
    assert main(["query", "Batch analysis", "--batch-file", str(batch)]) == 0
    out = capsys.readouterr().out
    assert "[q1] first question\n" in out
    assert "[q2] second question\n" in out


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_global_option_works_on_either_side_of_every_subcommand(command: str) -> None:
    parser = build_parser()
    rest = _POSITIONALS.get(command, [])
    globals_ = _global_options()
    assert {o for a in globals_ for o in a.option_strings} >= {"--offline", "--color"}
    for action in globals_:
        option = action.option_strings[0]
        value = [] if action.nargs == 0 else [action.choices[-1] if action.choices else "x"]  # type: ignore[index]
        before = parser.parse_args([option, *value, command, *rest])
        after = parser.parse_args([command, *rest, option, *value])
        expected = True if action.nargs == 0 else value[0]
        assert getattr(before, action.dest) == expected, (option, "before", command)
        assert getattr(after, action.dest) == expected, (option, "after", command)
    # Not given anywhere: the main parser's default survives the subcommand's copy.
    plain = parser.parse_args([command, *rest])
    for action in globals_:
        assert getattr(plain, action.dest) == action.default


def test_review_and_eval_accept_offline_after_the_subcommand(
    keyed: FakeOpenAI, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"app.py": "x = 1\n"})
    git_repo.write("app.py", "x = 1\ny = eval(input())\n")
    git_repo.add("app.py")
    assert main(["review", "--offline", "--fail-on", "never", "--format", "json"]) == 0
    assert "findings" in json.loads(capsys.readouterr().out)
    case = sorted((Path(__file__).parent.parent / "symphony_assist_hooks" / "evalcases" / "risky").glob("*.case"))[0]
    assert main(["eval", "--offline", "--cases", str(case), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert keyed.requests == []


def test_every_option_and_argument_has_help() -> None:
    missing = []
    for name, sub in {"": build_parser(), **_subparsers()}.items():
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{name or 'symphony-assist'} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_usage_errors_name_the_subcommand_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["switch-key", "tertiary"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symphony-assist: error: switch-key: argument alias: invalid choice")
    assert err.count("symphony-assist") == 1
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symphony-assist: error: unrecognized arguments: --no-such-option")
    assert err.count("symphony-assist") == 1


def test_models_shows_configured_keys_as_configured(env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    primary = next(line for line in out.splitlines() if "primary" in line and "models:" not in line)
    assert "not configured" not in primary
    assert "…" in primary  # the key hint, masked
    secondary = next(line for line in out.splitlines() if "secondary" in line)
    assert "not configured" in secondary  # only OPENAI_API_KEY is set


def test_models_offline_is_a_note_not_an_error(
    env: FakeOpenAI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_OFFLINE", "1")
    assert main(["models"]) == 0
    captured = capsys.readouterr()
    assert "error" not in captured.err
    assert "no request" in captured.err
    assert "primary gpt-4o-mini" in captured.out
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] is None
    assert doc["works"] is None
    assert "no request" in doc["note"]
    assert env.requests == []


def test_config_shows_the_cache_dir_in_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("cache_dir "))
    from symphony_assist_hooks.config import user_dirs

    assert str(user_dirs()[0]) in line


def test_serve_notice_has_one_prefix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    monkeypatch.chdir(tmp_path)
    ran: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append(kw["port"]))
    assert main(["serve", "--port", "8765"]) == 0
    assert ran == [8765]
    err = capsys.readouterr().err.strip()
    assert err.startswith("symphony-assist: API on http://127.0.0.1:8765")
    assert err.count("symphony-assist") == 1


# ------------------------------------------------------------------------------------------ usage
def _events(now: float) -> list[dict[str, object]]:
    """A history with a request shared by code_review and security (odd amounts, so a split has a
    remainder), a request of one template, cache hits and local answers."""
    shared = {"source": "request", "template": "code_review,security", "model": "gpt-4o-mini", "items": 3}
    return [
        shared | {"ts": now - 90, "run": "r1", "prompt_tokens": 1001, "completion_tokens": 333, "cost_micro": 3401},
        {"ts": now - 89, "run": "r1", "source": "api", "template": "code_review", "model": "gpt-4o-mini", "items": 3},
        {"ts": now - 89, "run": "r1", "source": "api", "template": "security", "model": "gpt-4o-mini", "items": 3},
        shared | {"ts": now - 60, "run": "r2", "prompt_tokens": 777, "completion_tokens": 101, "cost_micro": 1717},
        {"ts": now - 59, "run": "r2", "source": "api", "template": "code_review", "model": "gpt-4o-mini", "items": 3},
        {"ts": now - 59, "run": "r2", "source": "api", "template": "security", "model": "gpt-4o-mini", "items": 3},
        {
            "ts": now - 30,
            "run": "r3",
            "source": "request",
            "template": "general",
            "model": "gpt-4o",
            "items": 1,
            "prompt_tokens": 50,
            "completion_tokens": 20,
            "cost_micro": 555,
        },
        {"ts": now - 29, "run": "r3", "source": "api", "template": "general", "model": "gpt-4o", "items": 1},
        {
            "ts": now - 20,
            "run": "r4",
            "source": "cache",
            "template": "code_review",
            "model": "gpt-4o-mini",
            "items": 2,
            "saved_micro": 1133,
        },
        {"ts": now - 10, "run": "r5", "source": "local", "template": "security", "items": 1, "reason": "offline"},
    ]


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_text_json_and_html_stats_agree_to_the_cent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re
    import time

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    (cache / "stats.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _events(time.time())))
    assert main(["stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["stats", "--html", str(tmp_path / "r.html")]) == 0
    text = capsys.readouterr().out
    html = (tmp_path / "r.html").read_text()

    # JSON: a shared request counts once in the totals and its cost is split exactly between templates.
    total = doc["total"]
    assert total["requests"] == 3
    assert total["cost_usd"] == pytest.approx(0.005673)
    by_t = doc["by_template"]
    assert sum(b["requests"] for b in by_t.values()) == total["requests"]
    assert round(sum(b["cost_usd"] for b in by_t.values()), 6) == total["cost_usd"]
    assert sum(b["prompt_tokens"] for b in by_t.values()) == total["prompt_tokens"]
    assert sum(b["items"] for b in by_t.values()) == total["items"]

    # Text: the same totals and the same split.
    assert re.search(r"^spend\s+\$([\d.]+)$", text, re.M).group(1) == f"{total['cost_usd']:.4f}"  # type: ignore[union-attr]
    assert re.search(r"^requests\s+(\d+)$", text, re.M).group(1) == str(total["requests"])  # type: ignore[union-attr]
    for name, b in by_t.items():
        row = re.search(rf"^\s+{name}\s+(\d+) answers.*\$\s*([\d.]+) spent\s+\$\s*([\d.]+) saved$", text, re.M)
        assert row, name
        assert int(row.group(1)) == b["items"]
        assert row.group(2) == f"{b['cost_usd']:.4f}"
        assert row.group(3) == f"{b['saved_usd']:.4f}"

    # HTML: the spent KPI and the per-template ranking carry the same amounts.
    spent = re.search(r'<div class="kpi"><b>([^<]+)</b><span>spent</span>', html)
    assert spent and round(_money(spent.group(1)), 2) == round(total["cost_usd"], 2)
    ranking = html[html.index('data-chart="templates"') :]
    ranking = ranking[: ranking.index("</svg>")]
    drawn = {n: int(v) / 1e6 for n, v in re.findall(r'data-name="([^"]+)" data-value="(\d+)"', ranking)}
    assert drawn == {n: b["cost_usd"] for n, b in by_t.items() if b["cost_usd"] > 0}
    assert round(sum(drawn.values()), 6) == total["cost_usd"]


def test_stats_text_has_the_seed_figures_and_no_run_spend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(cache))
    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_DAILY", "2")
    monkeypatch.chdir(tmp_path)
    (cache / "stats.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _events(time.time())))
    assert main(["stats"]) == 0
    text = capsys.readouterr().out
    assert "Cached Responses" in text
    assert "Est. Cost Savings  $0.0011" in text
    assert "Efficiency         12.5% of answers served from the cache" in text  # 2 of 16 answers
    assert "cache hit rate     12.5%" in text  # the existing figures stay
    assert "budget run" not in text
    assert "budget today       $0.0000 spent of $2.0000 cap" in text
    assert "budget per run     $0.50 cap" in text
    assert main(["stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["efficiency"] == 0.125
    assert doc["estimated_savings_usd"] == pytest.approx(0.001133)
    assert doc["budget"]["day"]["cap_usd"] == 2.0
    assert doc["budget"]["day"]["cap"] == 2_000_000
    assert "micro-dollars" in doc["budget"]["units"]


def test_offline_eval_is_not_usage(env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "What is a mutex?"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["--offline", "eval", "--json"]) == 0
    assert main(["eval", "--offline", "--json"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["total"] == before["total"]
    assert after["fallback_reasons"] == before["fallback_reasons"]
    assert len(env.chat_requests) == 1


def test_failed_http_tries_are_counted_and_labelled(keyed: FakeOpenAI, pytester: pytest.Pytester) -> None:
    """Six failed tries (3 per model, two models) are not "0 request(s)"."""
    keyed.fail(500, times=None)
    pytester.makepyfile(test_one="def test_one():\n    assert 1 + 1 == 3\n")
    result = pytester.runpytest("--assist", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    tried = len(keyed.chat_requests)
    assert tried == 6
    summary = [line for line in result.outlines if line.startswith("cost $")]
    assert summary == [
        "cost $0.0000 · 0 request(s) answered, 6 failed HTTP tries · 0 cache hit(s) · saved $0.0000 · 1 local answer(s)"
    ]


def test_retries_before_an_answer_count_as_failed_tries(keyed: FakeOpenAI, tmp_path: Path) -> None:
    from symphony_assist_hooks.assistant import Assistant
    from symphony_assist_hooks.config import load_settings

    keyed.responder = answering(answer=lambda q: f"answer to: {q}")
    keyed.fail(503, times=2)
    assistant = Assistant(load_settings(cwd=tmp_path))
    try:
        resp = assistant.query("What is a mutex?")
    finally:
        assistant.close()
    assert resp.get("q1", "general").source == "api"
    assert (resp.api_requests, resp.failed_tries) == (1, 2)
    assert len(keyed.chat_requests) == 3


def test_a_hook_run_has_the_shorter_deadline(
    keyed: FakeOpenAI, git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A slow service: the hook (`review --pre-commit`) gives up at hook_deadline and falls back; the same
    review run by hand (or in CI) keeps the longer deadline and gets the answer."""
    from symphony_assist_hooks.cli.commands.review import hook_settings
    from symphony_assist_hooks.config import load_settings

    defaults = load_settings(cwd=git_repo.path)
    assert (defaults.deadline, defaults.hook_deadline) == (60.0, 20.0)
    assert hook_settings(defaults).deadline == 20.0
    git_repo.commit_files({"app.py": "x = 1\n"})
    git_repo.write("app.py", "x = 1\ny = x + 1\n")
    git_repo.add("app.py")
    monkeypatch.setenv("SYMPHONY_ASSIST_HOOK_DEADLINE", "1")
    monkeypatch.setenv("SYMPHONY_ASSIST_REPLAY", "0")
    keyed.responder = answering()
    keyed.delay(2.5, times=None)
    assert main(["review", "--pre-commit", "--fail-on", "never", "--format", "json"]) == 0
    hook = json.loads(capsys.readouterr().out)
    assert "deadline" in hook["summary"]["fallback_reason"]
    assert main(["review", "--staged", "--fail-on", "never", "--format", "json"]) == 0
    by_hand = json.loads(capsys.readouterr().out)
    assert by_hand["summary"]["fallback_reason"] is None
    assert by_hand["summary"]["api_requests"] == 1


def test_models_offline_without_a_key_is_still_a_note(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--offline", "models"]) == 0
    captured = capsys.readouterr()
    assert "error" not in captured.err
    assert "not configured" in captured.out
    assert main(["models"]) == 3  # online, no key: the documented exit code 3
    assert "no API key configured" in capsys.readouterr().err


def test_seed_query_with_the_security_template(env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "Is hashing passwords with md5 safe?", "--template", "security", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["content"] == "answer to: Is hashing passwords with md5 safe?"
    assert main(["templates"]) == 0
    assert "security" in capsys.readouterr().out


def test_server_stats_say_the_unit_of_spent(
    env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from symphony_assist_hooks.config import load_settings
    from symphony_assist_hooks.server.core import Core

    assert main(["query", "What is a mutex?"]) == 0
    capsys.readouterr()
    core = Core(load_settings(cwd=tmp_path))
    try:
        doc = core.stats()
    finally:
        core.close()
    month = doc["budget"]["month"]
    assert month["spent"] > 0
    assert month["spent_usd"] == round(month["spent"] / 1e6, 6)
    assert "micro-dollars" in doc["budget"]["units"]
    assert main(["stats", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["total"] == doc["total"]
    assert cli["budget"]["month"]["spent_usd"] == month["spent_usd"]


def test_a_batch_with_no_key_prints_no_blank_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed batch says once on stderr what is missing; stdout holds no empty `[qN]` answers."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("OPENAI_API_KEY", "OPENAI_API_KEY_PRIMARY", "OPENAI_API_KEY_SECONDARY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "q.txt").write_text("what is a rebase\nwhat is a merge\n", encoding="utf-8")
    assert main(["query", "Answer briefly", "--batch-file", str(tmp_path / "q.txt")]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "(2 of 2 unanswered)" in captured.err
