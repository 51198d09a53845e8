from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from responders import answering, items_of

from symphony_assist_hooks.cli import main


def _key() -> str:
    return "sk-test-" + secrets.token_hex(16)


@pytest.fixture
def env(fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    keys = {"primary": _key(), "secondary": _key()}
    monkeypatch.setenv("OPENAI_API_KEY_PRIMARY", keys["primary"])
    monkeypatch.setenv("OPENAI_API_KEY_SECONDARY", keys["secondary"])
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "5")
    monkeypatch.chdir(tmp_path)
    fake_openai.responder = answering(answer=lambda q: f"answer to: {q}")
    return keys


def test_query_then_cached(env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "What is a mutex?", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["content"] == "answer to: What is a mutex?"
    assert first["cached"] is False
    assert first["model"] == "gpt-4o-mini"
    assert first["usage"]["total_tokens"] == first["usage"]["prompt_tokens"] + first["usage"]["completion_tokens"] > 0
    assert main(["query", "What is a mutex?", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["cached"] is True
    assert second["content"] == first["content"]
    assert len(fake_openai.chat_requests) == 1
    assert main(["query", "What is a mutex?", "--no-cache"]) == 0
    assert len(fake_openai.chat_requests) == 2


def test_batch_one_request_and_each_line_cached(
    env: dict[str, str], fake_openai: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "qs.txt"
    questions = [f"question number {i}" for i in range(12)]
    batch.write_text("\n".join(questions[:6]) + "\n\n" + "\n".join(questions[6:]) + "\n")
    assert main(["query", "--batch-file", str(batch), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["content"] for d in docs] == [f"answer to: {q}" for q in questions]
    assert len(fake_openai.chat_requests) == 1
    assert len(items_of(fake_openai.chat_requests[0].body)) == 12
    assert main(["query", "--batch-file", str(batch), "--json"]) == 0
    assert all(d["cached"] for d in json.loads(capsys.readouterr().out))
    assert len(fake_openai.chat_requests) == 1
    # One question alone is a plain chat completion (no JSON framing): its own request and cache entry.
    assert main(["query", questions[7], "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert (single["cached"], single["content"]) == (False, f"answer to: {questions[7]}")
    plain = fake_openai.chat_requests[1].body
    assert "response_format" not in plain
    assert plain["messages"][1] == {"role": "user", "content": questions[7]}


def test_batch_split_by_token_limit(
    env: dict[str, str],
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_MAX_REQUEST_TOKENS", "500")
    batch = tmp_path / "qs.txt"
    batch.write_text("\n".join(f"{i} " + "word " * 80 for i in range(6)))
    assert main(["query", "--batch-file", str(batch)]) == 0
    assert 2 <= len(fake_openai.chat_requests) <= 6
    out = capsys.readouterr().out
    assert out.index("[q1]") < out.index("[q6]")


@pytest.mark.hardening_faults
def test_no_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    assert main(["query", "hello"]) == 3
    err = capsys.readouterr().err
    assert "no API key configured" in err
    assert "OPENAI_API_KEY" in err
    assert len(err.strip().splitlines()) == 1
    assert fake_openai.requests == []


@pytest.mark.hardening_faults
def test_offline_has_no_answer(
    env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--offline", "query", "hello"]) == 4
    assert "query has no offline answer" in capsys.readouterr().err
    assert fake_openai.requests == []


@pytest.mark.hardening_faults
def test_failover_to_secondary_key(
    env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_openai.fail(401, code="invalid_api_key", times=None, when_key=env["primary"])
    assert main(["query", "hi", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["content"] == "answer to: hi"
    assert fake_openai.which_keys(**env) == ["primary", "secondary"]


def test_switch_key_persists(env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["switch-key", "secondary"]) == 0
    out = capsys.readouterr().out
    assert env["secondary"] not in out
    assert env["secondary"][-4:] in out
    assert main(["query", "x"]) == 0
    assert fake_openai.which_keys(**env) == ["secondary"]


def test_switch_key_refuses_unconfigured(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", _key())
    assert main(["switch-key", "secondary"]) == 2
    assert "OPENAI_API_KEY_SECONDARY" in capsys.readouterr().err


@pytest.mark.hardening_faults
def test_budget_refusal_sends_nothing(
    env: dict[str, str], fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_RUN", "0.0000001")
    assert main(["query", "expensive"]) == 5
    assert "budget" in capsys.readouterr().err
    assert fake_openai.requests == []


@pytest.mark.hardening_faults
def test_model_fallback(env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    fake_openai.fail(404, code="model_not_found", times=1)
    assert main(["query", "fallback please", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "gpt-4o"
    assert [r.body["model"] for r in fake_openai.chat_requests] == ["gpt-4o-mini", "gpt-4o"]


@pytest.mark.hardening_faults
def test_service_down_one_line(
    env: dict[str, str], closed_port_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url)
    assert main(["query", "anyone there?"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1


def test_stats_show_everything(
    env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["query", "a"])
    main(["query", "a"])
    main(["query", "b"])
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    total = doc["total"]
    assert total["items"] == 3
    assert total["cache"] == 1
    assert total["api"] == 2
    assert total["requests"] == 2
    assert total["hit_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert total["cost_usd"] > 0
    assert total["saved_usd"] > 0
    assert doc["cached_responses"] == 2
    assert doc["budget"]["month"]["spent"] > 0
    assert "general" in doc["by_template"]
    assert "gpt-4o-mini" in doc["by_model"]
    assert main(["stats"]) == 0
    text = capsys.readouterr().out
    assert "cache hit rate" in text
    assert "33.3%" in text


@pytest.mark.hardening_faults
def test_keys_never_in_output_cache_or_stats(
    env: dict[str, str], fake_openai: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_openai.fail(401, times=None, when_key=env["primary"])
    main(["query", "q"])
    main(["models"])
    main(["config"])
    main(["stats", "--json"])
    out = capsys.readouterr()
    blob = out.out + out.err
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file():
            blob += f.read_bytes().decode("latin-1")
    for key in env.values():
        for i in range(len(key) - 8):
            assert key[i : i + 8] not in blob.replace(key[-4:], "")


def test_templates_and_plugins_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    for name in ("security", "code_review", "testing", "architecture", "performance", "documentation"):
        assert name in out
    assert main(["plugins"]) == 0
    assert "builtins" in capsys.readouterr().out


@pytest.mark.hardening_faults
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["query"]) == 2
    assert main(["query", "x", "--template", "nope"]) == 2
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "fast")
    assert main(["query", "x"]) == 2
    assert main(["bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4
    assert "SYMPHONY_ASSIST_TIMEOUT" in err[2]


def test_a_question_with_bytes_that_are_not_utf8_is_sent_with_escapes(
    env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """argv decoded with surrogateescape (a Latin-1 terminal): the request is valid UTF-8, not a crash."""
    question = b"what does caf\xe9 mean?".decode("utf-8", "surrogateescape")
    assert main(["query", question, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["content"] == "answer to: what does caf\\xe9 mean?"
    sent = fake_openai.chat_requests[0].body["messages"][-1]["content"]  # a plain question: a plain message
    assert "what does caf\\xe9 mean?" in sent


def test_model_flags_travel_on_the_request_only(
    env: dict[str, str], fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """--model/--temperature/--max-tokens reach the service through the Request; the settings keep the
    defaults (the command line does not write per-request options into them)."""
    from symphony_assist_hooks.cli import _cli_settings, build_parser
    from symphony_assist_hooks.config import load_settings

    argv = ["query", "Which lock?", "--json", "--model", "gpt-4o", "--temperature", "0.5", "--max-tokens", "77"]
    settings = load_settings(_cli_settings(build_parser().parse_args(argv)))
    assert (settings.model_primary, settings.temperature, settings.max_tokens) == ("gpt-4o-mini", 0.0, 800)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "gpt-4o"
    (sent,) = fake_openai.chat_requests
    assert (sent.body["model"], sent.body["temperature"]) == ("gpt-4o", 0.5)
    assert 77 in (sent.body.get("max_tokens"), sent.body.get("max_completion_tokens"))
    assert main(["query", "Which lock?", "--json"]) == 0  # the defaults are another request: not that cache entry
    assert json.loads(capsys.readouterr().out)["cached"] is False
