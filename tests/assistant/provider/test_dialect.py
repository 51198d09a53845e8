"""Response-format dialects: each OpenAI-compatible server answered in the dialect it speaks.

The fake server (tests/fakeserver.py) emulates llama-cpp-python's HTTP 500 on `json_schema`, a server
that ignores `response_format`, and a model that wraps its JSON in prose; everything goes through the
real openai SDK on 127.0.0.1.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from responders import answering, items_of

from symphony_assist_hooks.assistant import Assistant
from symphony_assist_hooks.assistant.endpoint import endpoint_of, normalize
from symphony_assist_hooks.assistant.pricing import cost_micro, price_for
from symphony_assist_hooks.assistant.provider import OpenAIProvider
from symphony_assist_hooks.assistant.provider.dialect import (
    FILE_NAME,
    DialectMemory,
    Negotiator,
    first_json_object,
    is_capability_error,
)
from symphony_assist_hooks.assistant.provider.keys import KeyRing
from symphony_assist_hooks.assistant.provider.openai import ChatRequest
from symphony_assist_hooks.assistant.request import Item, Request
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.config.keys import Secret

SCHEMA: dict[str, Any] = {
    "name": "answer_results",
    "schema": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "answer": {"type": "string"}},
                    "required": ["id", "answer"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["results"],
        "additionalProperties": False,
    },
}
REQ = ChatRequest("be brief", "<data-0>\n## q1\nwhy?\n</data-0>", "gpt-4o-mini", 0.0, 200, json_schema=SCHEMA)


def _key() -> str:
    return "sk-test-" + secrets.token_hex(16)


def _settings(fake: FakeOpenAI, cache: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "api_key_primary": Secret(_key()),
        "base_url": fake.url,
        "cache_dir": cache,
        "timeout": 5.0,
        "model_fallback": "gpt-4o",
    }
    return Settings(**(base | kw))


def _provider(settings: Settings, tmp: Path, waits: list[float]) -> OpenAIProvider:
    keys = KeyRing(settings.api_key_primary, None, tmp / "state.json")
    return OpenAIProvider(settings, keys, sleep=waits.append)


def _formats(fake: FakeOpenAI) -> list[str]:
    return [(r.body.get("response_format") or {}).get("type", "none") for r in fake.chat_requests]


# ------------------------------------------------------------------------------------ tolerant reading
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"results": []}', '{"results": []}'),
        ('  {"a": 1}\n', '{"a": 1}'),
        ('Sure! {this} is it:\n```json\n{"a": {"b": [1, "}"]}}\n```\nbye {"c": 2}', '{"a": {"b": [1, "}"]}}'),
        ("no json here at all", None),
        ("[1, 2, 3]", None),
        ("{" * 5000, None),
    ],
)
def test_first_json_object(text: str, expected: str | None) -> None:
    assert first_json_object(text) == expected


def test_capability_errors_are_told_from_faults() -> None:
    llama = "{'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
    assert is_capability_error(500, llama)
    assert is_capability_error(400, "response_format json_schema is not supported with this model")
    assert is_capability_error(422, "unknown field json_schema")
    assert not is_capability_error(500, "The server had an error while processing your request.")
    assert not is_capability_error(503, llama)  # overloaded is a fault, whatever the body says
    assert not is_capability_error(401, "response_format")


# ------------------------------------------------------------------------------------------ memory
def test_memory_persists_expires_and_survives_a_damaged_file(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "cache" / FILE_NAME
    memory = DialectMemory(path, ttl=60, clock=lambda: now[0])
    assert memory.recall("http://h:1/v1", "m") is None
    memory.learn("http://h:1/v1", "m", "json_object")
    again = DialectMemory(path, ttl=60, clock=lambda: now[0])  # the next run
    assert again.recall("http://h:1/v1", "m") == "json_object"
    assert again.recall("http://h:1/v1", "other") is None
    assert again.recall("http://h:2/v1", "m") is None
    assert (path.stat().st_mode & 0o777) == 0o600
    now[0] += 61
    assert DialectMemory(path, ttl=60, clock=lambda: now[0]).recall("http://h:1/v1", "m") is None
    path.write_text("{not json", encoding="utf-8")
    damaged = DialectMemory(path, ttl=60, clock=lambda: now[0])
    assert damaged.recall("http://h:1/v1", "m") is None
    damaged.learn("http://h:1/v1", "m", "text")
    assert json.loads(path.read_text(encoding="utf-8"))["entries"]["http://h:1/v1 m"]["dialect"] == "text"


def test_memory_in_an_unusable_dir_only_forgets(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    memory = DialectMemory(blocker / FILE_NAME)
    memory.learn("e", "m", "text")  # no error: the dialect is rediscovered next run
    assert memory.recall("e", "m") == "text"  # still known in this process
    assert DialectMemory(blocker / FILE_NAME).recall("e", "m") is None


def test_a_configured_dialect_is_where_negotiation_starts(tmp_path: Path) -> None:
    memory = DialectMemory(None)
    memory.learn("e", "m", "text")
    assert Negotiator("e", memory).first("m") == "text"
    assert Negotiator("e", memory, "json_object").first("m") == "json_object"
    assert Negotiator("e", memory).first("other") == "json_schema"


# ------------------------------------------------------------------------------------------ provider
def test_llama_cpp_python_500_is_answered_in_json_object_once_then_remembered(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.dialect = "llama-cpp-python"
    fake_openai.responder = answering()
    settings = _settings(fake_openai, tmp_path / "cache")
    waits: list[float] = []
    got = _provider(settings, tmp_path, waits).complete(REQ, deadline=time.monotonic() + 10)

    assert json.loads(got.content) == {"results": [{"id": "q1", "answer": "answer to: why?"}]}
    assert _formats(fake_openai) == ["json_schema", "json_object"]  # one refusal, no 5xx retries
    assert waits == []  # no backoff: a capability answer is not a fault
    second = fake_openai.chat_requests[1].body
    assert second["response_format"]["schema"] == SCHEMA["schema"]
    assert "JSON Schema" in second["messages"][0]["content"]
    assert second["messages"][1] == {"role": "user", "content": REQ.user}
    assert got.attempts == 1

    # The next run (a new provider, same cache dir) starts in json_object: no failed request.
    _provider(settings, tmp_path, waits).complete(REQ, deadline=time.monotonic() + 10)
    assert _formats(fake_openai) == ["json_schema", "json_object", "json_object"]
    remembered = json.loads((tmp_path / "cache" / FILE_NAME).read_text(encoding="utf-8"))
    assert next(iter(remembered["entries"].values()))["dialect"] == "json_object"


def test_cache_clear_forgets_the_remembered_dialects(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server upgraded to accept json_schema is asked again after `cache clear`."""
    fake_openai.dialect = "llama-cpp-python"
    fake_openai.responder = answering()
    settings = _settings(fake_openai, tmp_path / "cache")
    _provider(settings, tmp_path, []).complete(REQ, deadline=time.monotonic() + 10)
    assert (tmp_path / "cache" / FILE_NAME).exists()

    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["cache", "clear"]) == 0
    assert f"forgot the response formats servers accepted ({FILE_NAME})" in capsys.readouterr().out
    assert not (tmp_path / "cache" / FILE_NAME).exists()
    _provider(settings, tmp_path, []).complete(REQ, deadline=time.monotonic() + 10)
    assert _formats(fake_openai) == ["json_schema", "json_object", "json_schema", "json_object"]


def test_a_server_refusing_json_object_too_gets_plain_text(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.fail(400, message="response_format is not supported", times=2)
    fake_openai.responder = answering()
    got = _provider(_settings(fake_openai, tmp_path / "c"), tmp_path, []).complete(REQ, deadline=time.monotonic() + 10)
    assert _formats(fake_openai) == ["json_schema", "json_object", "none"]
    assert json.loads(got.content)["results"][0]["id"] == "q1"


def test_an_ordinary_500_is_still_a_fault(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.fail(500, times=1)
    waits: list[float] = []
    _provider(_settings(fake_openai, tmp_path / "c"), tmp_path, waits).complete(REQ, deadline=time.monotonic() + 10)
    assert _formats(fake_openai) == ["json_schema", "json_schema"]  # retried in the same dialect
    assert len(waits) == 1
    assert not (tmp_path / "c" / FILE_NAME).exists()


def test_json_schema_server_sees_the_unchanged_request(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    _provider(_settings(fake_openai, tmp_path / "c"), tmp_path, []).complete(REQ, deadline=time.monotonic() + 10)
    [sent] = fake_openai.chat_requests
    assert sent.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer_results", "strict": True, "schema": SCHEMA["schema"]},
    }
    assert sent.body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": REQ.user}]


def test_prose_around_json_is_read(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.dialect = "prose"
    fake_openai.responder = answering()
    got = _provider(_settings(fake_openai, tmp_path / "c"), tmp_path, []).complete(REQ, deadline=time.monotonic() + 10)
    assert json.loads(got.content) == {"results": [{"id": "q1", "answer": "answer to: why?"}]}


# ------------------------------------------------------------------------------------------ pipeline
def _review(assistant: Assistant, n: int = 1) -> Any:
    items = tuple(Item(f"h{i}", f"1+x = {i}\n", "a.py") for i in range(1, n + 1))
    request = Request(frame="findings", templates=("code_review",), items=items)

    def local(pairs: Any, reason: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {(it.id, name): {"findings": [], "local": reason} for it, name in pairs}

    return assistant.ask(request, local)


def test_review_through_llama_cpp_python_reaches_the_model(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.dialect = "llama-cpp-python"
    fake_openai.responder = answering(
        findings=lambda i, label, c: [
            {"line": 1, "severity": "high", "rule": "r", "title": "t", "message": "m", "suggestion": "s"}
        ]
    )
    assistant = Assistant(_settings(fake_openai, tmp_path / "cache"))
    try:
        resp = _review(assistant)
    finally:
        assistant.close()
    assert resp.fallback_reason is None
    assert resp.get("h1", "code_review").source == "api"
    assert resp.get("h1", "code_review").data["findings"][0]["severity"] == "high"
    assert [r.body["model"] for r in fake_openai.chat_requests] == ["gpt-4o-mini", "gpt-4o-mini"]  # no fallback model


def test_a_server_ignoring_response_format_gets_the_schema_in_the_prompt_next(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.dialect = "ignores-format"
    fake_openai.responder = answering()
    settings = _settings(fake_openai, tmp_path / "cache")
    first = Assistant(settings)
    try:
        resp = _review(first)
    finally:
        first.close()
    assert resp.get("h1", "code_review").source == "local"
    assert "not valid JSON" in (resp.fallback_reason or "")
    second = Assistant(settings)
    try:
        resp = _review(second)
    finally:
        second.close()
    assert resp.get("h1", "code_review").source == "api"
    assert _formats(fake_openai) == ["json_schema", "none"]
    assert "JSON Schema" in fake_openai.chat_requests[1].body["messages"][0]["content"]


def test_a_truncated_batch_is_asked_again_as_halves(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue('{"results": [{"id": "h1", "findings": [', finish_reason="length")
    fake_openai.responder = answering()
    assistant = Assistant(_settings(fake_openai, tmp_path / "cache"))
    try:
        resp = _review(assistant, 4)
    finally:
        assistant.close()
    assert resp.fallback_reason is None
    assert all(resp.get(f"h{i}", "code_review").source == "api" for i in range(1, 5))
    assert [len(items_of(r.body)) for r in fake_openai.chat_requests] == [4, 2, 2]
    tokens = [r.body["max_tokens"] for r in fake_openai.chat_requests]
    assert tokens[1] == tokens[2] == tokens[0] // 2
    assert resp.api_requests == 3  # the truncated answer was billed too


def test_a_batch_truncated_again_falls_back(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    for _ in range(3):
        fake_openai.enqueue('{"results": [', finish_reason="length")
    assistant = Assistant(_settings(fake_openai, tmp_path / "cache"))
    try:
        resp = _review(assistant, 4)
    finally:
        assistant.close()
    assert len(fake_openai.chat_requests) == 3  # once as halves, never more
    assert "truncated" in (resp.fallback_reason or "")
    assert all(resp.get(f"h{i}", "code_review").source == "local" for i in range(1, 5))


# ------------------------------------------------------------------------------------------ plain questions
def test_a_plain_question_is_a_plain_chat_completion(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.dialect = "llama-cpp-python"
    fake_openai.models = ["smollm2"]
    assistant = Assistant(_settings(fake_openai, tmp_path / "cache", model_primary="smollm2"))
    try:
        resp = assistant.query("What does git rerere do?")
    finally:
        assistant.close()
    result = resp.get("q1", "general")
    assert (result.source, result.data) == ("api", {"answer": "fake answer from smollm2"})
    [sent] = fake_openai.chat_requests
    assert "response_format" not in sent.body
    assert sent.body["messages"][1] == {"role": "user", "content": "What does git rerere do?"}
    assert "results" not in sent.body["messages"][0]["content"]
    assert resp.cost_micro == 0  # an unknown local model costs $0
    assert any("no price known for model smollm2" in w for w in assistant.warnings)


def test_a_price_table_entry_makes_a_local_model_free_without_a_notice() -> None:
    price = price_for("smollm2", {"smollm2": {"input": 0.0, "output": 0.0}})
    assert price.known
    assert cost_micro(price, 10_000, 2_000) == 0
    assert not price_for("smollm2", {}).known


# ------------------------------------------------------------------------------------------ endpoint in the key
def test_endpoints_are_canonical() -> None:
    assert normalize("HTTP://LocalHost:80/v1/") == "http://localhost/v1"
    assert normalize("https://user:pw@h.example:8443/api/v1") == "https://h.example:8443/api/v1"
    assert endpoint_of(None) == "https://api.openai.com/v1"
    assert endpoint_of("http://a:1/v1", "https://srv.example/") == "server https://srv.example"


def test_switching_the_base_url_never_returns_the_other_servers_answer(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", _key())
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    fake_openai.responder = lambda body: "from server A"
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    assert main(["query", "Which server?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["content"] == "from server A"

    # The same host under another path is another endpoint (a gateway routing by path).
    fake_openai.responder = lambda body: "from server B"
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url.replace("/v1", "/other/v1"))
    assert main(["query", "Which server?", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["content"], doc["cached"]) == ("from server B", False)

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url + "/")  # the same endpoint, spelled differently
    assert main(["query", "Which server?", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["content"], doc["cached"]) == ("from server A", True)
    assert len(fake_openai.chat_requests) == 2


def test_an_answer_that_leaves_items_out_says_so(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue({"results": [{"id": "h1", "findings": []}, {"id": "h9", "findings": []}]})
    assistant = Assistant(_settings(fake_openai, tmp_path / "cache"))
    try:
        resp = _review(assistant, 2)
    finally:
        assistant.close()
    assert resp.get("h1", "code_review").source == "api"
    assert resp.get("h2", "code_review").source == "local"
    assert resp.fallback_reason == "the model's answer did not match the request (1 of 2 items unmatched)"
