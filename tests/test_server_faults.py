"""The HTTP API when something is missing or broken: no OpenAI key, a key that cannot be checked, a
ledger of a newer version, a secret scanner that fails, a memory-only server, a client that goes away.

Like tests/test_server.py: a real uvicorn on 127.0.0.1 with the fake OpenAI server behind it, and the
guard's corner cases driven through its ASGI interface directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from test_server import Api, assert_no_key, server_settings, serving

from symphony_assist_hooks.assistant.provider import NO_KEY_MESSAGE, ServiceUnavailableError
from symphony_assist_hooks.assistant.provider.remote import RemoteBudgetError, RemoteProvider, _Reply
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.config.keys import Secret
from symphony_assist_hooks.errors import (
    EXIT_BUDGET,
    EXIT_NO_KEY,
    AuthError,
    BadAnswerError,
    BudgetError,
    ConfigError,
    FallbackReason,
    GitError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    SecretScanError,
    SymphonyError,
    UsageError,
)
from symphony_assist_hooks.scan import rules as secretrules
from symphony_assist_hooks.server import create_app, guard
from symphony_assist_hooks.server.diff import parse_diff
from symphony_assist_hooks.server.errors import api_error, reason_error
from symphony_assist_hooks.server.guard import Buckets, Guard, Limits, is_loopback

CHAT = {"system": "s", "user": "u", "model": "gpt-4o-mini", "temperature": 0, "max_tokens": 20}


@pytest.fixture
def start(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """start(**env) → a running loopback Api over settings from `env` (stopped after the test)."""
    with contextlib.ExitStack() as stack:

        def _start(**env: str) -> Api:
            settings, keys = server_settings(tmp_path, fake_openai, **env)
            return Api(stack.enter_context(serving(create_app(settings))), settings, keys, fake_openai)

        yield _start


# ------------------------------------------------------------------------------------ no OpenAI key
def test_a_server_without_a_key_says_so_on_every_endpoint(start: Callable[..., Api]) -> None:
    api = start(OPENAI_API_KEY_PRIMARY="", OPENAI_API_KEY_SECONDARY="")
    complete = api.call("POST", "/assistant/complete", json=CHAT)
    assert complete.status_code == 503
    assert complete.json()["error"] == {"code": "no_key", "message": NO_KEY_MESSAGE}
    query = api.call("POST", "/assistant/query", json={"prompt": "anyone?"})
    assert query.status_code == 503
    assert query.json()["error"]["code"] == "no_key"
    models = api.call("GET", "/assistant/models").json()
    assert (models["models"], models["error"], models["active_key"]) == ([], NO_KEY_MESSAGE, None)
    assert api.fake.requests == []
    # the client of such a server: a NoKeyError (exit 3) naming the server, not a retry loop
    client = RemoteProvider(Settings(server_url=api.url, server_token=Secret(api.keys["token"])))
    from symphony_assist_hooks.assistant.provider.openai import ChatRequest

    with pytest.raises(NoKeyError, match=r"at http://127\.0\.0\.1:\d+ has no API key configured: no API key") as e:
        client.complete(ChatRequest("s", "u", "gpt-4o-mini", 0.0, 20), deadline=_soon())
    assert e.value.exit_code == EXIT_NO_KEY
    assert e.value.attempts == 1


def _soon() -> float:
    import time

    return time.monotonic() + 20


# ---------------------------------------------------------------------------------------- switch-key
def test_switching_to_a_key_the_server_does_not_have_is_a_bad_request(start: Callable[..., Api]) -> None:
    api = start(OPENAI_API_KEY_SECONDARY="")
    resp = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token=True)
    assert resp.status_code == 400
    assert resp.json()["error"] == {
        "code": "bad_request",
        "message": "the secondary key is not configured on the server",
    }
    assert api.fake.requests == []  # nothing to validate


def test_a_key_that_cannot_be_checked_now_is_not_switched_to(start: Callable[..., Api]) -> None:
    api = start(SYMPHONY_ASSIST_TIMEOUT="1")
    api.fake.fail(404, code="unknown_url", message="no models endpoint here", times=None, path="/v1/models")
    resp = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token=True)
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "cannot_validate"
    assert err["message"].startswith("cannot check the secondary key now (")
    assert err["message"].endswith("); the active key is still primary")
    assert api.call("GET", "/assistant/models").json()["active_key"] == "primary"
    assert_no_key(api.keys, *api.seen)


# ---------------------------------------------------------------------------------------- ledger, stats
def test_a_ledger_of_a_newer_version_is_reported_by_stats_and_refuses_paid_calls(start: Callable[..., Api]) -> None:
    api = start()
    ledger_dir = api.settings.resolved_cache_dir / "ledger"
    ledger_dir.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(ledger_dir / "ledger.db")
    con.execute("PRAGMA user_version = 99")
    con.close()
    stats = api.call("GET", "/assistant/stats")
    assert stats.status_code == 200
    assert stats.json()["budget"] == {
        "error": f"budget ledger unreadable at {ledger_dir}: written by a newer symphony-assist (schema 99); "
        "no paid call was made. Remove the directory to reset it"
    }
    refused = api.call("POST", "/assistant/complete", json=CHAT)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert api.fake.requests == []  # fail closed: no paid call


def test_a_memory_only_server_writes_no_file(start: Callable[..., Api]) -> None:
    api = start(LLM_CACHE_BACKEND="memory")
    assert api.call("POST", "/assistant/complete", json=CHAT).json()["cached"] is False
    assert api.call("POST", "/assistant/complete", json=CHAT).json()["cached"] is True
    assert api.call("GET", "/assistant/stats").status_code == 200
    kept = {p.name for p in api.settings.resolved_cache_dir.iterdir()}
    assert kept == {"ledger"}  # the budget is never forgotten; answers and stats are
    assert len(api.fake.chat_requests) == 1


def test_an_answer_that_is_not_the_json_asked_for_is_relayed_but_not_cached(start: Callable[..., Api]) -> None:
    api = start()
    properties = {"ok": {"type": "boolean"}}
    schema = {"name": "verdict", "schema": {"type": "object", "properties": properties, "required": ["ok"]}}
    api.fake.enqueue("Sure, here you go: ok!")  # a model that ignored the response format
    first = api.call("POST", "/assistant/complete", json={**CHAT, "json_schema": schema})
    assert first.status_code == 200
    assert (first.json()["content"], first.json()["cached"]) == ("Sure, here you go: ok!", False)
    again = api.call("POST", "/assistant/complete", json={**CHAT, "json_schema": schema})
    assert again.json()["cached"] is False  # asked upstream again: an unusable document is never cached
    assert len(api.fake.chat_requests) == 2


def test_a_failing_secret_scan_sends_nothing_and_is_not_an_outage(
    start: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = start()

    def broken(text: str, lower: str) -> Iterator[tuple[int, int]]:
        raise RuntimeError("rule crashed")
        yield (0, 0)

    monkeypatch.setattr(secretrules, "RULES", (secretrules.Rule("broken", broken), *secretrules.RULES))
    resp = api.call("POST", "/assistant/query", json={"prompt": "scan me"})
    assert resp.status_code == 422  # not a 503: retrying would not help
    assert resp.json()["error"] == {
        "code": "secret_scan",
        "message": "secret scan failed: RuntimeError; nothing was sent",
    }
    assert api.fake.requests == []


# ---------------------------------------------------------------------------------------- error mapping
@pytest.mark.parametrize(
    ("exc", "status", "code", "back"),
    [
        (BudgetError("budget: monthly cap"), 402, "budget_exceeded", RemoteBudgetError),
        (NoKeyError("no key"), 503, "no_key", NoKeyError),
        (AuthError("key refused"), 502, "upstream_auth", AuthError),
        (QuotaError("quota"), 502, "upstream_quota", QuotaError),
        (ModelError("no such model"), 400, "model_error", ModelError),
        (BadAnswerError("truncated"), 502, "bad_answer", BadAnswerError),
        (ServiceUnavailableError("down", 503), 503, "upstream_unavailable", ServiceUnavailableError),
        (ProviderError("a plugin's own fault"), 502, "upstream_error", None),  # retried by the client
        (SecretScanError("scan failed"), 422, "secret_scan", ServiceUnavailableError),
        (ConfigError("x", 1, "y", "z"), 400, "bad_request", ServiceUnavailableError),
        (GitError("not a repository"), 400, "bad_request", ServiceUnavailableError),
        (SymphonyError("something new"), 503, "server_error", None),
    ],
)
def test_every_core_error_maps_to_an_answer_the_client_maps_back(
    exc: SymphonyError, status: int, code: str, back: type[Exception] | None
) -> None:
    err = api_error(exc)
    assert (err.status, err.code, err.message) == (status, code, str(exc))
    response = err.response()
    client = RemoteProvider(Settings(server_url="http://127.0.0.1:9"))
    judged = client._judge(_Reply(response.status_code, {}, bytes(response.body)))
    if back is None:
        assert not isinstance(judged, Exception)  # a transient fault: retried
    else:
        assert type(judged) is back
    if isinstance(exc, ServiceUnavailableError):
        assert isinstance(judged, ServiceUnavailableError) and judged.status == 503


@pytest.mark.parametrize(
    ("reason", "status", "code"),
    [
        (None, 503, "upstream_unavailable"),
        (FallbackReason("budget: monthly cap reached", EXIT_BUDGET), 402, "budget_exceeded"),
        (FallbackReason("offline: no API key configured", EXIT_NO_KEY), 503, "no_key"),
        (FallbackReason.of(SecretScanError("secret scan failed: x; nothing was sent")), 422, "secret_scan"),
        (FallbackReason("the service is down"), 503, "upstream_unavailable"),
    ],
)
def test_a_fallback_reason_maps_to_its_status(reason: FallbackReason | None, status: int, code: str) -> None:
    err = reason_error(reason)
    assert (err.status, err.code) == (status, code)
    assert err.message


# ---------------------------------------------------------------------------------------- the guard
@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("assist.example", False),  # a name, not an address: never assumed local
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_buckets_forget_full_clients_once_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(guard, "time", SimpleNamespace(monotonic=lambda: now[0]))
    buckets = Buckets(capacity=1, rate=1.0)
    assert buckets.take("drained") == 0.0
    now[0] += 0.5
    for i in range(10_001):
        assert buckets.take(f"client-{i}") == 0.0
    now[0] += 0.4  # "drained" is still refilling, the others' buckets too
    assert buckets.wait("drained") == pytest.approx(0.1)
    now[0] += 5  # every bucket is full again: the next new client makes the table forget them
    assert buckets.take("newcomer") == 0.0
    assert set(buckets._state) == {"newcomer"}
    assert buckets.take("client-1") == 0.0  # a forgotten client starts with a full bucket


def _guard(app: Any, **kwargs: Any) -> Guard:
    return Guard(app, token=None, public=False, limits=Limits(), scrub=lambda text: text, **kwargs)


def _scope(method: str = "GET", path: str = "/healthz") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json")],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
    }


def _run(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = list(incoming)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_failure_after_the_answer_started_is_logged_and_not_answered_twice(caplog: pytest.LogCaptureFixture) -> None:
    token = "sk-" + secrets.token_hex(16)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError(f"stream broke while holding {token}")

    keylike = guard.scrubber(Settings(api_key_primary=Secret(token)))
    with caplog.at_level(logging.ERROR, logger=guard.__name__):
        sent = _run(
            Guard(app, token=None, public=False, limits=Limits(), scrub=keylike), _scope(), [{"type": "http.request"}]
        )
    assert [m.get("status") for m in sent] == [200]  # no 500 after the 200 had gone out
    assert "GET /healthz failed" in caplog.text and "RuntimeError" in caplog.text
    assert token not in caplog.text


def test_a_client_that_leaves_mid_body_is_seen_as_gone_by_the_app() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())  # the body the guard read
        seen.append(await receive())  # then the real stream again: the client left
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    incoming = [{"type": "http.request", "body": b'{"prompt": "par', "more_body": True}, {"type": "http.disconnect"}]
    sent = _run(_guard(app), _scope("POST", "/assistant/query"), incoming)
    assert seen == [
        {"type": "http.request", "body": b'{"prompt": "par', "more_body": False},
        {"type": "http.disconnect"},
    ]
    assert sent[0]["status"] == 204


# ---------------------------------------------------------------------------------------- a client's diff
def test_a_diff_keeps_only_what_a_local_review_would_read(git_repo: GitRepo) -> None:
    """A real `git diff --cached` with every kind of change a review skips, and one it reviews."""
    git_repo.commit_files({"gone.py": "x = 1\n", "tool.sh": "echo hi\n", "app.py": "def f():\n    return 1\n"}, "first")
    git_repo.run("rm", "-q", "gone.py")  # deleted
    git_repo.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")  # binary
    git_repo.symlink("latest", "app.py")  # symlink
    git_repo.write(".env", "DEBUG=1\n")  # sensitive: named, never read
    (git_repo.path / "tool.sh").chmod(0o755)  # mode only
    git_repo.write("app.py", "def f():\n    return 2\n")  # the one file to review
    git_repo.add()
    git_repo.run("update-index", "--add", "--cacheinfo", f"160000,{git_repo.head()},vendor/lib")  # submodule
    diff = git_repo.run("diff", "--cached")
    sent = parse_diff(diff)
    assert [fd.path for fd in sent.changes.files] == ["app.py"]
    assert sent.changes.skipped == {
        "deleted": 1,
        "binary": 1,
        "symlink": 1,
        "sensitive": 1,
        "mode only": 1,
        "submodule": 1,
    }
    assert sent.changes.omitted == ((".env", "sensitive"),)  # reported as a finding, its content unread
    assert sent.read([".env", "app.py"]) == {".env": None, "app.py": "def f():\n    return 2\n"}
    with pytest.raises(UsageError, match="no file in the diff"):
        parse_diff("just some text, not a diff\n")
