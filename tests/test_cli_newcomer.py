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
