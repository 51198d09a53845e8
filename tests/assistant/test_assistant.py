"""The Assistant facade: batches and asyncio callers, a failing secret scan, an unusable cache dir, the
memory backend, and the provider a plugin brings. The service is the fake OpenAI server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from plugin_site import installed_plugin
from responders import answering

from symphony_assist_hooks.assistant import Assistant, Halt, cache_key, content_hash, make_provider
from symphony_assist_hooks.assistant.provider.openai import ChatRequest, Completion
from symphony_assist_hooks.assistant.request import Request
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import Settings, load_settings
from symphony_assist_hooks.errors import EXIT_SECRET_SCAN, FallbackReason, NoKeyError
from symphony_assist_hooks.scan import rules as secretrules


@pytest.fixture
def settings(keyed: FakeOpenAI) -> Settings:
    keyed.responder = answering(answer=lambda q: f"answer to: {q}")
    return load_settings()


def answer(resp: Any) -> tuple[str, str]:
    result = resp.get("q1", "general")
    return result.data["answer"] if result.data else None, result.source


# ------------------------------------------------------------------------------------------ callers
def test_ask_many_answers_in_input_order_then_from_the_cache(settings: Settings, keyed: FakeOpenAI) -> None:
    questions = [f"question {i}?" for i in range(6)]
    assistant = Assistant(settings)
    try:
        first = assistant.ask_many([Request.question(q) for q in questions])
        again = assistant.ask_many([Request.question(q) for q in reversed(questions)])
    finally:
        assistant.close()
    assert [answer(r) for r in first] == [(f"answer to: {q}", "api") for q in questions]
    assert [answer(r) for r in again] == [(f"answer to: {q}", "cache") for q in reversed(questions)]
    assert len(keyed.chat_requests) == 6


def test_aask_answers_an_asyncio_caller(settings: Settings, keyed: FakeOpenAI) -> None:
    assistant = Assistant(settings)

    async def both() -> tuple[Any, Any]:
        first = await assistant.aask(Request.question("async?"))
        return first, await assistant.aask(Request.question("async?"))

    try:
        first, second = asyncio.run(both())
    finally:
        assistant.close()
    assert answer(first) == ("answer to: async?", "api")
    assert answer(second) == ("answer to: async?", "cache")


def test_a_failing_secret_scan_sends_nothing(
    settings: Settings, keyed: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str, lower: str) -> Iterator[tuple[int, int]]:
        raise RuntimeError("rule crashed")
        yield (0, 0)

    monkeypatch.setattr(secretrules, "RULES", (secretrules.Rule("broken", broken), *secretrules.RULES))
    assistant = Assistant(settings)
    try:
        resp = assistant.query("is this safe?")
    finally:
        assistant.close()
    assert resp.fallback_reason == "secret scan failed: RuntimeError; nothing was sent"
    assert resp.fallback_reason.exit_code == EXIT_SECRET_SCAN
    assert answer(resp)[0] is None
    assert keyed.requests == []


# ------------------------------------------------------------------------------------------ local state
def test_a_cache_dir_that_is_a_file_warns_once_and_makes_no_paid_call(
    keyed: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger lives there too: without it the budget cannot be kept, so nothing is sent (fail closed)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(blocker))
    warned: list[str] = []
    assistant = Assistant(load_settings(), warn=warned.append)
    try:
        resp = assistant.query("still there?")
        for line in list(warned):
            assistant.warn(line)  # the same lines again: each is said once
    finally:
        assistant.close()
    assert answer(resp) == (None, "none")
    assert resp.fallback_reason.startswith(
        f"budget ledger cannot be made in {blocker / 'ledger'}: {blocker} is a file, not a directory"
    )
    assert "no paid call was made" in resp.fallback_reason
    assert f"cache dir {blocker} unusable (File exists): nothing will be cached" in warned
    assert f"cache: cannot use {blocker / 'responses'} (Not a directory); not caching this run" in warned
    assert len(warned) == len(set(warned)) == len(assistant.warnings)
    assert keyed.requests == []


def test_the_memory_backend_writes_no_stats_file(keyed: FakeOpenAI, tmp_path: Path) -> None:
    keyed.responder = answering(answer=lambda q: f"answer to: {q}")
    settings = load_settings(env={"LLM_CACHE_BACKEND": "memory", **_env_of(keyed, tmp_path)})
    assistant = Assistant(settings)
    try:
        assert answer(assistant.query("remember nothing")) == ("answer to: remember nothing", "api")
        assert answer(assistant.query("remember nothing")) == ("answer to: remember nothing", "cache")
        kinds = [e["source"] for e in assistant.recorded_events]
    finally:
        assistant.close()
    assert kinds == ["request", "api", "cache"]  # recorded in memory for this run's summary...
    assert not (tmp_path / "cache" / "stats.jsonl").exists()  # ...and nowhere on disk


def _env_of(fake: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-test-" + secrets.token_hex(16),
        "OPENAI_BASE_URL": fake.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
        "SYMPHONY_ASSIST_TIMEOUT": "5",
    }


# ------------------------------------------------------------------------------------------ small parts
def test_the_first_stop_reason_of_a_run_wins() -> None:
    halt = Halt()
    first = FallbackReason("budget: monthly cap reached", 5)
    assert halt.stop(first) is first
    assert halt.stop(FallbackReason("the service is down")) is first
    assert halt.reason is first


def test_a_cache_key_from_content_equals_one_from_its_hash() -> None:
    parts: dict[str, Any] = {
        "frame": "findings", "template_sha": "t", "template": "security", "frame_sha": "f",
        "model": "gpt-4o-mini", "label": "app.py", "temperature": 0.0, "max_tokens": 800,
        "redaction": "1", "endpoint": "openai",
    }  # fmt: skip
    assert cache_key(content="x = 1\n", **parts) == cache_key(content_sha=content_hash("x = 1\n"), **parts)
    assert cache_key(content="x = 2\n", **parts) != cache_key(content="x = 1\n", **parts)


def test_without_a_key_there_is_no_openai_provider() -> None:
    with pytest.raises(NoKeyError, match=r"no API key configured: set OPENAI_API_KEY"):
        make_provider(Settings())


# ------------------------------------------------------------------------------------------ a plugin's provider
PLUGIN = '''
from symphony_assist_hooks.assistant.provider.openai import Completion
from symphony_assist_hooks.hookspecs import hookimpl


class Canned:
    """A provider that answers every question locally (and has nothing to close)."""

    asked = []

    def complete(self, req, *, deadline):
        Canned.asked.append(req.user)
        return Completion("canned: " + req.user, "canned-1", 3, 4, 0, "stop", "plugin", 1, 0.0)

    def list_models(self, *, deadline):
        return ["canned-1"]


@hookimpl
def provider(settings):
    return Canned() if settings.model_primary == "canned-1" else None
'''


@pytest.fixture
def canned_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An installed plugin (a module and its dist-info entry point on sys.path) bringing a provider."""
    with installed_plugin(tmp_path / "site", monkeypatch, "sa_canned", PLUGIN):
        import sa_canned  # type: ignore[import-not-found]

        yield sa_canned.Canned


def test_a_plugin_provider_answers_instead_of_openai(
    canned_plugin: Any, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_MODEL_PRIMARY", "canned-1")
    assert main(["query", "who answers?"]) == 0
    assert capsys.readouterr().out.strip() == "canned: who answers?"
    assert canned_plugin.asked == ["who answers?"]
    assert keyed.requests == []  # OpenAI was never asked
    keyed.responder = answering(answer=lambda q: f"openai: {q}")
    monkeypatch.delenv("LLM_MODEL_PRIMARY")
    assert main(["query", "and now?"]) == 0  # the plugin declines other models: OpenAI answers
    assert capsys.readouterr().out.strip() == "openai: and now?"
    assert len(keyed.chat_requests) == 1


def test_a_plugin_provider_without_close_is_closed_without_error(canned_plugin: Any, keyed: FakeOpenAI) -> None:
    settings = load_settings({"model_primary": "canned-1"})
    assistant = Assistant(settings)
    resp = assistant.query("bye?")
    assistant.close()  # the provider has no close(): nothing to call, nothing raised
    assert answer(resp) == ("canned: bye?", "api")
    assert resp.fallback_reason is None
    chat = ChatRequest("s", "u", "canned-1", 0.0, 10)
    assert isinstance(make_provider(settings).complete(chat, deadline=0.0), Completion)


def test_a_plugin_provider_needs_no_openai_key(
    canned_plugin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix the run said "offline: no API key configured" and never asked the plugin."""
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLM_MODEL_PRIMARY", "canned-1")
    assert main(["query", "who answers?"]) == 0
    assert capsys.readouterr().out.strip() == "canned: who answers?"
    monkeypatch.delenv("LLM_MODEL_PRIMARY")  # a model the plugin declines: no key, no answer
    assert main(["query", "and now?"]) == 3
    assert "offline: no API key configured" in capsys.readouterr().err
