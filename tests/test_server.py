"""The HTTP API against a real uvicorn on 127.0.0.1 with the fake OpenAI server behind it (issue #7).

Every test talks HTTP through a real client (httpx2); the server's settings are built from an explicit
environment (fake keys generated here, OPENAI_BASE_URL = the fake server, a private cache dir).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fakeserver import FakeOpenAI
from responders import answering, finding
from test_report import Marks, write_history

from symphony_assist_hooks.assistant.cache.disk import DiskCache
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import Settings, load_settings
from symphony_assist_hooks.errors import GitError, UsageError
from symphony_assist_hooks.git import changes as git
from symphony_assist_hooks.git import process as gitcli
from symphony_assist_hooks.server import create_app
from symphony_assist_hooks.server.core import Core
from symphony_assist_hooks.server.diff import parse_diff
from symphony_assist_hooks.server.guard import Limits

QUERY_FIELDS = {"model", "content", "usage", "cached"}
USAGE_FIELDS = {"total_tokens", "prompt_tokens", "completion_tokens"}

DIFF = """\
diff --git a/app/calc.py b/app/calc.py
index 1111111..2222222 100644
--- a/app/calc.py
+++ b/app/calc.py
@@ -1,3 +1,4 @@
 def total(xs):
-    return sum(xs)
+    result = eval(xs)
+    return result
 # end
"""


def model_findings(doc: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(path, line, rule) of what the model reported, merged with a local finding or not."""
    return [(f["path"], f["line"], o["rule"]) for f in doc["findings"] for o in f["sources"] if o["kind"] == "model"]


def new_key() -> str:
    return "sk-test-" + secrets.token_hex(20)


def server_settings(tmp_path: Path, fake: FakeOpenAI, **extra: str) -> tuple[Settings, dict[str, str]]:
    """The server's settings from an explicit environment; returns them with the keys they hold."""
    keys = {"primary": new_key(), "secondary": new_key(), "token": secrets.token_urlsafe(32)}
    env = {
        "OPENAI_API_KEY_PRIMARY": keys["primary"],
        "OPENAI_API_KEY_SECONDARY": keys["secondary"],
        "OPENAI_BASE_URL": fake.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "server-cache"),
        "SYMPHONY_ASSIST_SERVER_TOKEN": keys["token"],
        "SYMPHONY_ASSIST_TIMEOUT": "5",
        **extra,
    }
    env = {k: v for k, v in env.items() if v}
    return load_settings(env=env, cwd=tmp_path), keys


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run `app` on a free 127.0.0.1 port in a thread; yields its base URL once it accepts requests."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a start-up hang guard for a busy machine, not a speed check
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Api:
    """A running server: its URL, settings and keys, and a client that records every answer."""

    url: str
    settings: Settings
    keys: dict[str, str]
    fake: FakeOpenAI
    seen: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def call(self, method: str, path: str, *, token: bool | str = False, **kwargs: Any) -> httpx2.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {self.keys['token'] if token is True else token}"
        with httpx2.Client(base_url=self.url, timeout=20) as client:
            resp = client.request(method, path, headers=headers, **kwargs)
        self.seen.append(f"{resp.status_code} {dict(resp.headers)} {resp.text}")
        return resp


@pytest.fixture
def start(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """start(public=False, limits=None, **env) → a running Api (stopped after the test)."""
    stack = contextlib.ExitStack()
    fake_openai.responder = answering(findings=lambda *_: [finding(2, rule="eval-use")])

    def _start(*, public: bool = False, limits: Limits | None = None, **env: str) -> Api:
        settings, keys = server_settings(tmp_path, fake_openai, **env)
        url = stack.enter_context(serving(create_app(settings, public=public, limits=limits)))
        return Api(url, settings, keys, fake_openai)

    with stack:
        yield _start


@pytest.fixture
def api(start: Callable[..., Api]) -> Api:
    return start()


def assert_no_key(keys: dict[str, str], *texts: str) -> None:
    """No 8-character substring of any key or token in `texts` (the masked hint keeps the last 4)."""
    blob = "\n".join(texts)
    for name, key in keys.items():
        for i in range(len(key) - 7):
            assert key[i : i + 8] not in blob, f"8 characters of the {name} key leaked"


# ---------------------------------------------------------------------------------------- endpoints
def test_query_formats_exactly(api: Api) -> None:
    resp = api.call("POST", "/assistant/query", json={"prompt": "What is a mutex?"})
    assert resp.status_code == 200
    doc = resp.json()
    assert set(doc) == QUERY_FIELDS
    assert set(doc["usage"]) == USAGE_FIELDS
    assert doc["content"] == "answer to: What is a mutex?"
    assert doc["model"] == "gpt-4o-mini"
    assert doc["cached"] is False
    usage = doc["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    again = api.call("POST", "/assistant/query", json={"prompt": "What is a mutex?"}).json()
    assert again["cached"] is True
    assert again["content"] == doc["content"]
    assert again["usage"] == {"total_tokens": 0, "prompt_tokens": 0, "completion_tokens": 0}
    assert len(api.fake.chat_requests) == 1
    sent = api.fake.chat_requests[0].body  # a plain chat completion: the question as it was asked
    assert "response_format" not in sent
    assert sent["messages"][1] == {"role": "user", "content": "What is a mutex?"}


def test_query_every_optional_field(api: Api) -> None:
    body = {
        "prompt": "Is this safe?",
        "model": "gpt-4.1-mini",
        "temperature": 0.2,
        "max_tokens": 300,
        "metadata": {"tool": "editor", "n": 1},
        "template": "security",
        "context": {"file": "x = eval(input())"},
    }
    doc = api.call("POST", "/assistant/query", json=body).json()
    assert set(doc) == QUERY_FIELDS
    assert doc["model"] == "gpt-4.1-mini"
    sent = api.fake.chat_requests[0].body
    assert sent["model"] == "gpt-4.1-mini"
    assert sent["temperature"] == 0.2
    user = sent["messages"][1]["content"]
    assert "x = eval(input())" in user
    assert "editor" not in json.dumps(sent)  # metadata is never sent
    assert api.call("POST", "/assistant/query", json={**body, "context": "plain text context"}).status_code == 200
    bad = api.call("POST", "/assistant/query", json={**body, "template": "no-such-template"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"


def test_every_request_shares_the_servers_scan_memo(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """One secret-scan memo per server, opened once and closed with it (not one SQLite database per request)."""
    settings, _ = server_settings(tmp_path, fake_openai)
    core = Core(settings)
    try:
        first, second = core.assistant(), core.assistant()
        assert first.scans is core.scans and second.scans is core.scans
        assert isinstance(core.scans, DiskCache) and core.scans.path == settings.resolved_cache_dir / "scans"
        first.scans.set("memo", {"sha": "0" * 64, "label": "a.py", "n": 0})
        assert second.scans.get("memo") == {"sha": "0" * 64, "label": "a.py", "n": 0}
    finally:
        core.close()


def test_models_keys_masked(api: Api) -> None:
    doc = api.call("GET", "/assistant/models").json()
    assert "gpt-4o-mini" in doc["models"]
    assert doc["active_key"] == "primary"
    hints = {k["alias"]: k["key_hint"] for k in doc["keys"]}
    assert hints == {a: "sk-…" + api.keys[a][-4:] for a in ("primary", "secondary")}
    assert doc["primary_model"] == "gpt-4o-mini"
    assert_no_key(api.keys, *api.seen)


def test_switch_key_needs_token_and_validates(api: Api) -> None:
    assert api.call("POST", "/assistant/switch-key", json={"key": "secondary"}).status_code == 401
    wrong = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token="x" * 43)
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    api.fake.fail(401, code="invalid_api_key", when_key=api.keys["secondary"], path="/v1/models")
    rejected = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token=True)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["code"] == "key_rejected"
    assert "still primary" in rejected.json()["error"]["message"]
    assert api.call("GET", "/assistant/models").json()["active_key"] == "primary"
    ok = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token=True)
    assert ok.status_code == 200
    assert ok.json() == {"active": "secondary", "key_hint": "sk-…" + api.keys["secondary"][-4:]}
    api.fake.requests.clear()
    assert api.call("POST", "/assistant/query", json={"prompt": "which key?"}).status_code == 200
    assert api.fake.which_keys(**api.keys) == ["secondary"]
    assert api.call("GET", "/assistant/models").json()["active_key"] == "secondary"
    assert api.call("POST", "/assistant/switch-key", json={"key": "tertiary"}, token=True).status_code == 422
    assert_no_key(api.keys, *api.seen)


def test_switch_while_answering_never_sends_a_half_switched_key(api: Api) -> None:
    """Switches and queries hammer the server together: every upstream call carries one whole key."""

    def switch(i: int) -> int:
        alias = ("primary", "secondary")[i % 2]
        return api.call("POST", "/assistant/switch-key", json={"key": alias}, token=True).status_code

    def ask(i: int) -> int:
        return api.call("POST", "/assistant/query", json={"prompt": f"question {i}"}).status_code

    with ThreadPoolExecutor(12) as pool:
        switches = pool.map(switch, range(8))
        answers = pool.map(ask, range(24))
        assert set(switches) == {200}
        assert set(answers) == {200}
    used = api.fake.which_keys(primary=api.keys["primary"], secondary=api.keys["secondary"])
    assert len(used) == 8 + 24  # a models call to validate each switch, one chat call per question
    assert set(used) <= {"primary", "secondary"}


def test_switch_key_refused_without_a_configured_token(start: Callable[..., Api]) -> None:
    api = start(SYMPHONY_ASSIST_SERVER_TOKEN="")
    resp = api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token="y" * 40)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "token_required"


def test_templates_stats_health(api: Api) -> None:
    names = {t["name"] for t in api.call("GET", "/assistant/templates").json()["templates"]}
    assert {"general", "security", "code_review"} <= names
    assert not any(n.startswith("_") for n in names)
    api.call("POST", "/assistant/query", json={"prompt": "a"})
    api.call("POST", "/assistant/query", json={"prompt": "a"})
    stats = api.call("GET", "/assistant/stats").json()
    assert stats["total"]["api"] == 1
    assert stats["total"]["cache"] == 1
    assert stats["budget"]["month"]["spent"] > 0
    assert "path" not in stats["budget"]
    assert api.call("GET", "/healthz").json()["status"] == "ok"


def test_review_endpoint(api: Api) -> None:
    resp = api.call("POST", "/assistant/review", json={"diff": DIFF})
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert model_findings(doc) == [("app/calc.py", 2, "eval-use")]  # merged with the local eval finding
    assert doc["files"] == 1
    assert doc["api_requests"] == 1
    again = api.call("POST", "/assistant/review", json={"diff": DIFF, "templates": ["code_review", "security"]})
    assert again.json()["api_requests"] == 0
    assert again.json()["cache_hits"] >= 1
    assert len(api.fake.chat_requests) == 1
    assert api.call("POST", "/assistant/review", json={"diff": "not a diff"}).status_code == 422


def test_review_fallback_reads_no_repository(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream down: the local analyzers review the text rebuilt from the diff, not this host's files."""
    monkeypatch.chdir(tmp_path)  # not a git repository: a git read would fail the request
    api.fake.fail(503, times=None)
    doc = api.call("POST", "/assistant/review", json={"diff": DIFF}).json()
    assert doc["fallback_reason"]
    assert doc["local_answers"] >= 1
    assert all(f["source"] == "local" for f in doc["findings"])
    assert ("app/calc.py", 2) in {(f["path"], f["line"]) for f in doc["findings"]}  # eval() found locally


def test_review_never_reads_the_hosts_repository(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answered by the service and by the local analyzers alike, a review runs no git and reads no file
    through git.py; nothing is patched into git.py either (the reader is passed to review_changes)."""
    for name in ("file_text", "file_texts"):
        fn = getattr(git, name)
        assert (fn.__module__, fn.__qualname__) == ("symphony_assist_hooks.git.changes", name)
    calls: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name}{args!r}")
            raise GitError(f"{name} called while serving a client's diff")

        return call

    monkeypatch.setattr(gitcli, "run", refuse("run"))  # the one wrapper every git process goes through
    for name in ("file_text", "file_texts"):
        monkeypatch.setattr(git, name, refuse(name))
    served = api.call("POST", "/assistant/review", json={"diff": DIFF}).json()
    assert [(line, rule) for _, line, rule in model_findings(served)] == [(2, "eval-use")]
    api.fake.fail(503, times=None)
    other = DIFF.replace("# end", "# the end")  # not in the cache
    local = api.call("POST", "/assistant/review", json={"diff": other}).json()
    assert local["fallback_reason"]
    assert ("app/calc.py", 2) in {(f["path"], f["line"]) for f in local["findings"] if f["source"] == "local"}
    assert calls == []


def test_diff_text_is_rebuilt_from_the_diff_only() -> None:
    sent = parse_diff(DIFF)
    assert sent.changes.source == "server-diff"
    assert [fd.path for fd in sent.changes.files] == ["app/calc.py"]
    assert sent.read(["app/calc.py", "elsewhere.py"]) == {
        "app/calc.py": "def total(xs):\n    result = eval(xs)\n    return result\n# end\n",
        "elsewhere.py": None,
    }
    gap = DIFF.replace("@@ -1,3 +1,4 @@", "@@ -1,3 +3,4 @@")
    assert (
        parse_diff(gap).texts["app/calc.py"] == "\n\ndef total(xs):\n    result = eval(xs)\n    return result\n# end\n"
    )


def test_a_far_hunk_costs_nothing(api: Api) -> None:
    """A hunk header may claim any line number: the rebuilt text is sized before it is built. Memory is
    measured, not time: a text built first would cost ~0.3 GB for a hunk at line 30,000,000 (checked first,
    so that a regression fails here instead of building 10**11 lines below)."""
    farther = DIFF.replace("@@ -1,3 +1,4 @@", "@@ -1,3 +30000000,4 @@")
    tracemalloc.start()
    try:
        assert parse_diff(farther).texts == {"app/calc.py": None}  # over the size limit, as a huge file from git
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # bytes: the diff is parsed, no text of 30,000,000 lines is built
    far = DIFF.replace("@@ -1,3 +1,4 @@", "@@ -1,3 +99999999999,4 @@")
    assert parse_diff(far).texts == {"app/calc.py": None}
    resp = api.call("POST", "/assistant/review", json={"diff": far})
    assert resp.status_code == 200, resp.text
    assert resp.json()["files"] == 1


def test_budget_refusal_is_402(start: Callable[..., Api]) -> None:
    api = start(SYMPHONY_ASSIST_BUDGET_MONTHLY="0.0000001")
    resp = api.call("POST", "/assistant/query", json={"prompt": "expensive"})
    assert resp.status_code == 402
    assert resp.json()["error"]["code"] == "budget_exceeded"
    assert resp.json()["error"]["message"].startswith("budget")
    assert api.fake.requests == []


def test_validation_errors_echo_nothing(api: Api) -> None:
    resp = api.call("POST", "/assistant/query", json={"prompt": 5, "extra": "sk-should-not-echo-1234"})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "invalid_request"
    assert "sk-should-not-echo" not in resp.text
    assert (
        api.call(
            "POST", "/assistant/query", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    missing = api.call("GET", "/assistant/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_internal_error_is_generic(api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    key = api.keys["primary"]

    def boom(self: object) -> dict[str, Any]:
        raise RuntimeError(f"exploded while holding {key}")

    monkeypatch.setattr("symphony_assist_hooks.server.core.Core.stats", boom)
    with caplog.at_level(logging.ERROR):
        resp = api.call("GET", "/assistant/stats")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal", "message": "internal server error"}}
    assert "Traceback" in caplog.text  # logged for the operator...
    assert_no_key(api.keys, caplog.text, *api.seen)  # ...scrubbed of the key


# ---------------------------------------------------------------------------------------- security
def test_host_and_origin_checks(api: Api) -> None:
    assert api.call("GET", "/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert api.call("GET", "/healthz", headers={"Host": f"evil.example:{api.port}"}).status_code == 400
    assert api.call("GET", "/healthz", headers={"Host": "127.0.0.1:1"}).status_code == 400
    assert api.call("GET", "/healthz", headers={"Host": f"localhost:{api.port}"}).status_code == 200
    assert api.call("GET", "/healthz", headers={"Host": f"[::1]:{api.port}"}).status_code == 200
    for origin in ("https://evil.example", "null", f"http://evil.example:{api.port}"):
        resp = api.call("POST", "/assistant/query", json={"prompt": "x"}, headers={"Origin": origin})
        assert resp.status_code == 403, origin
        assert resp.json()["error"]["code"] == "bad_origin"
    same = api.call("GET", "/healthz", headers={"Origin": f"http://127.0.0.1:{api.port}"})
    assert same.status_code == 200
    assert "access-control-allow-origin" not in same.headers
    assert api.fake.requests == []


def test_behind_a_reverse_proxy_the_named_hosts_are_served_with_the_token(
    start: Callable[..., Api], tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """A loopback bind behind nginx/caddy: the proxy's Host names are accepted, and the token required."""
    settings, _ = server_settings(
        tmp_path, fake_openai, SYMPHONY_ASSIST_SERVER_TOKEN="", SYMPHONY_ASSIST_SERVER_HOSTS="review.team.example"
    )
    with pytest.raises(UsageError, match="SYMPHONY_ASSIST_SERVER_TOKEN"):
        create_app(settings)  # reachable from the network through the proxy: a token is required
    api = start(SYMPHONY_ASSIST_SERVER_HOSTS="Review.Team.Example, other.example")
    for host in ("review.team.example", "review.team.example:443", "other.example", f"127.0.0.1:{api.port}"):
        assert api.call("GET", "/healthz", token=True, headers={"Host": host}).status_code == 200, host
        assert api.call("GET", "/healthz", headers={"Host": host}).status_code == 401, host
    resp = api.call("GET", "/healthz", token=True, headers={"Host": "evil.example"})
    assert resp.status_code == 400  # DNS rebinding through another name: still refused
    assert resp.json()["error"]["code"] == "bad_host"
    assert api.call("GET", "/docs", token=True, headers={"Host": "review.team.example"}).status_code == 404


def test_json_only_and_size_limits(api: Api) -> None:
    plain = api.call("POST", "/assistant/query", content=b'{"prompt": "x"}', headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    form = api.call("POST", "/assistant/query", data={"prompt": "x"})
    assert form.status_code == 415
    assert api.call("POST", "/assistant/query", content=b'{"prompt": "x"}').status_code == 415  # no type
    big = json.dumps({"prompt": "x" * (1 << 20)}).encode()
    assert (
        api.call("POST", "/assistant/query", content=big, headers={"Content-Type": "application/json"}).status_code
        == 413
    )

    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    chunked = api.call("POST", "/assistant/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    ok = api.call(
        "POST",
        "/assistant/query",
        json={"prompt": "y" * 1000},
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200
    assert len(api.fake.chat_requests) == 1


def test_rate_limit_per_client(start: Callable[..., Api]) -> None:
    api = start(limits=Limits(burst=5, per_second=0.1))
    codes = [api.call("GET", "/healthz").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    last = api.call("GET", "/healthz")
    assert last.json()["error"]["code"] == "rate_limited"
    assert int(last.headers["retry-after"]) >= 1


def test_failed_tokens_are_throttled(start: Callable[..., Api]) -> None:
    api = start(limits=Limits(auth_failures=3))
    codes = [
        api.call("POST", "/assistant/switch-key", json={"key": "primary"}, token=secrets.token_urlsafe(32)).status_code
        for _ in range(20)
    ]
    assert codes[:3] == [401, 401, 401]
    assert set(codes[3:]) == {429}
    right = api.call("POST", "/assistant/switch-key", json={"key": "primary"}, token=True)
    assert right.status_code == 429  # throttled: no oracle for the right token either
    assert api.call("GET", "/healthz").status_code == 200  # the rest of the API still answers


def test_public_mode_needs_the_token_everywhere(
    start: Callable[..., Api], tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings, _ = server_settings(tmp_path, fake_openai, SYMPHONY_ASSIST_SERVER_TOKEN="")
    with pytest.raises(UsageError, match="SYMPHONY_ASSIST_SERVER_TOKEN"):
        create_app(settings, public=True)
    short, _ = server_settings(tmp_path, fake_openai, SYMPHONY_ASSIST_SERVER_TOKEN="short")
    with pytest.raises(UsageError, match="too short"):
        create_app(short)
    api = start(public=True)
    for path in (
        "/healthz",
        "/assistant/models",
        "/assistant/templates",
        "/assistant/stats",
        "/assistant/dashboard",
        "/openapi.json",
    ):
        assert api.call("GET", path).status_code == 401, path
        assert api.call("GET", path, token=True, headers={"Host": "assist.team.example"}).status_code == 200, path
    assert api.call("POST", "/assistant/query", json={"prompt": "q"}).status_code == 401
    assert api.call("POST", "/assistant/query", json={"prompt": "q"}, token=True).status_code == 200
    assert api.call("GET", "/docs", token=True).status_code == 404
    assert api.call("GET", "/healthz", token=True, headers={"Origin": "https://evil.example"}).status_code == 403


# ---------------------------------------------------------------------------------------- the dashboard
CHARTS = ["fallback", "hit-rate", "models", "spend-day", "spend-month", "templates", "tokens"]


def test_dashboard_page(start: Callable[..., Api]) -> None:
    api = start(SYMPHONY_ASSIST_BUDGET_DAILY="0.5")
    stats = api.settings.resolved_cache_dir / "stats.jsonl"
    stats.parent.mkdir(parents=True, exist_ok=True)
    write_history(stats)  # a week of usage through StatsLog (2025-03-01 to 03-07)
    resp = api.call("GET", "/assistant/dashboard")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    page = resp.text
    marks = Marks(page)
    assert sorted(marks.marks) == CHARTS
    assert len(marks.marks["spend-day"]) == 7
    assert marks.urls == []  # the page loads nothing
    assert "of $0.50" in page  # the server's ledger: its daily cap
    assert '<meta http-equiv="Content-Security-Policy"' in page
    assert "content-security-policy" not in resp.headers  # the page's own policy allows its script by hash
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-content-type-options"] == "nosniff"
    dark = api.call("GET", "/assistant/dashboard", params={"theme": "dark"})
    assert dark.status_code == 200
    assert sorted(Marks(dark.text).marks) == CHARTS
    assert api.call("GET", "/assistant/dashboard", headers={"Host": "evil.example"}).status_code == 400
    assert api.call("GET", "/assistant/dashboard", headers={"Origin": "https://evil.example"}).status_code == 403
    assert api.fake.requests == []


def test_dashboard_without_usage(api: Api) -> None:
    resp = api.call("GET", "/assistant/dashboard")
    assert resp.status_code == 200
    assert "no usage recorded yet" in resp.text


def test_dashboard_needs_the_token_in_public_mode(start: Callable[..., Api]) -> None:
    api = start(public=True)
    bare = api.call("GET", "/assistant/dashboard")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == "Bearer"
    assert bare.json()["error"]["code"] == "unauthorized"
    assert "<svg" not in bare.text
    assert api.call("GET", "/assistant/dashboard", token="z" * 43).status_code == 401
    ok = api.call("GET", "/assistant/dashboard", token=True, headers={"Host": "assist.team.example"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/html")
    assert "symphony-assist usage" in ok.text
    assert_no_key(api.keys, *api.seen)


def test_keys_never_in_responses_or_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.fake.fail(401, times=None, when_key=api.keys["primary"])  # its body quotes the whole key
    assert api.call("POST", "/assistant/query", json={"prompt": "leak?"}).status_code == 200
    api.fake.fail(401, times=None)
    api.call("POST", "/assistant/query", json={"prompt": "leak again?"})
    api.call(
        "POST",
        "/assistant/complete",
        json={"system": "s", "user": "u", "model": "m", "temperature": 0, "max_tokens": 20},
    )
    for path in ("/assistant/models", "/assistant/stats", "/assistant/templates", "/openapi.json"):
        api.call("GET", path)
    api.call("POST", "/assistant/switch-key", json={"key": "secondary"}, token=True)
    assert len(api.seen) >= 8
    assert_no_key(api.keys, caplog.text, *api.seen)
    cache = api.settings.resolved_cache_dir
    stored = "".join(p.read_bytes().decode("latin-1") for p in cache.rglob("*") if p.is_file())
    assert_no_key(api.keys, stored)


def test_complete_settles_and_records_an_unusable_answer(api: Api) -> None:
    """The relay makes its call through the core's metered call: a truncated answer is refused (502
    bad_answer) but billed, and the stats' spend equals the ledger's."""
    api.fake.enqueue("cut off mid-sent", finish_reason="length", prompt_tokens=1000, completion_tokens=20)
    chat = {"system": "s", "user": "u", "model": "gpt-4o-mini", "temperature": 0, "max_tokens": 20}
    resp = api.call("POST", "/assistant/complete", json=chat)
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "bad_answer"
    stats = api.call("GET", "/assistant/stats").json()
    assert stats["total"]["requests"] == 1
    assert stats["total"]["prompt_tokens"] == 1000
    assert stats["total"]["cost_usd"] > 0
    assert stats["budget"]["month"]["spent_usd"] == stats["total"]["cost_usd"]
    assert stats["budget"]["month"]["reserved"] == 0


# ---------------------------------------------------------------------------------------- coalescing
def test_fifty_identical_queries_make_one_upstream_call(api: Api) -> None:
    api.fake.delay(0.5)  # the first upstream answer is slow: every request arrives while it is in flight
    barrier = threading.Barrier(50)

    def ask(_: int) -> dict[str, Any]:
        with httpx2.Client(base_url=api.url, timeout=30) as client:
            barrier.wait()
            resp = client.post("/assistant/query", json={"prompt": "coalesce me"})
            assert resp.status_code == 200, resp.text
            doc: dict[str, Any] = resp.json()
            return doc

    with ThreadPoolExecutor(50) as pool:
        docs = list(pool.map(ask, range(50)))
    assert len(api.fake.chat_requests) == 1
    assert {d["content"] for d in docs} == {"answer to: coalesce me"}
    leaders = [d for d in docs if not d["cached"]]
    assert len(leaders) == 1
    assert leaders[0]["usage"]["total_tokens"] > 0
    assert all(d["usage"]["total_tokens"] == 0 for d in docs if d["cached"])


def test_complete_coalesces_across_nonces_and_caches(api: Api) -> None:
    """Two clients render the same prompt with different delimiter nonces: one upstream call."""
    api.fake.delay(0.4)

    def body(nonce: str) -> dict[str, Any]:
        user = f"<data-{nonce}>\n## q1\nhi\n</data-{nonce}>"
        schema = {
            "name": "answer_results",
            "schema": {
                "type": "object",
                "properties": {
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "answer": {"type": "string"}},
                        },
                    }
                },
            },
        }
        return {
            "system": "sys",
            "user": user,
            "model": "gpt-4o-mini",
            "temperature": 0,
            "max_tokens": 100,
            "json_schema": schema,
        }

    with ThreadPoolExecutor(8) as pool:
        docs = list(
            pool.map(lambda i: api.call("POST", "/assistant/complete", json=body(f"{i:016x}")).json(), range(8))
        )
    assert len(api.fake.chat_requests) == 1
    assert len({d["content"] for d in docs}) == 1
    assert sum(not d["cached"] for d in docs) == 1
    later = api.call("POST", "/assistant/complete", json=body("f" * 16)).json()
    assert later["cached"] is True
    assert later["prompt_tokens"] == 0
    other = api.call("POST", "/assistant/complete", json={**body("a" * 16), "user": body("a" * 16)["user"] + "!"})
    assert other.json()["cached"] is False
    assert len(api.fake.chat_requests) == 2


# ---------------------------------------------------------------------------------------- entry points
def test_serve_refuses_a_public_bind_without_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "SYMPHONY_ASSIST_SERVER_TOKEN" in err[0]


def test_serve_refuses_a_short_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", "hunter2")
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "too short" in err
    assert "hunter2" not in err


def test_uvicorn_app_attribute(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """`uvicorn symphony_assist_hooks.server:app`: a real process, settings from its environment."""
    key = new_key()
    fake_openai.responder = answering()
    env = {
        **os.environ,
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": fake_openai.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
    }
    cmd = [sys.executable, "-m", "uvicorn", "symphony_assist_hooks.server:app", "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url, "uvicorn did not report its address"
        doc = httpx2.post(url + "/assistant/query", json={"prompt": "from a process"}, timeout=20).json()
        assert doc["content"] == "answer to: from a process"
        assert set(doc) == QUERY_FIELDS
        assert len(fake_openai.chat_requests) == 1
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------------------------------- the schema
def test_openapi_schema(api: Api) -> None:
    schema = api.call("GET", "/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/healthz",
        "/assistant/models",
        "/assistant/query",
        "/assistant/switch-key",
        "/assistant/review",
        "/assistant/templates",
        "/assistant/stats",
        "/assistant/dashboard",
        "/assistant/complete",
    ):
        assert path in paths, path
    components = schema["components"]["schemas"]
    assert set(components["QueryIn"]["properties"]) == {
        "prompt",
        "model",
        "temperature",
        "max_tokens",
        "metadata",
        "template",
        "context",
    }
    assert components["QueryIn"]["required"] == ["prompt"]
    assert set(components["QueryOut"]["properties"]) == QUERY_FIELDS
    assert set(components["Usage"]["properties"]) == USAGE_FIELDS
    assert components["SwitchKeyIn"]["properties"]["key"]["enum"] == ["primary", "secondary"]
    query = paths["/assistant/query"]["post"]
    assert query["requestBody"]["content"].keys() == {"application/json"}
    for status in ("402", "413", "415", "422", "429"):
        assert status in query["responses"], status
    assert paths["/assistant/dashboard"]["get"]["responses"]["200"]["content"].keys() == {"text/html"}
    assert api.call("GET", "/docs").status_code == 200  # Swagger UI for loopback use


def test_schemathesis_finds_no_server_error(start: Callable[..., Api]) -> None:
    """Property-based requests from the OpenAPI schema: no 5xx, every answer matches the schema."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    api = start(limits=Limits(burst=100_000, per_second=100_000))
    api.fake.responder = answering()
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    auth = {"Authorization": f"Bearer {api.keys['token']}"}
    failures: list[str] = []

    def fuzz(op: Any) -> None:
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            if op.path == "/assistant/switch-key":
                case.headers = {**(case.headers or {}), **auth}
            response = case.call(base_url=api.url, timeout=30)
            api.seen.append(response.text)
            try:
                case.validate_response(response)
            except BaseException as exc:  # a FailureGroup: collected with the operation's name
                failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:600]}")

        check()

    for result in schema.get_all_operations():
        fuzz(result.ok())
    assert failures == [], "\n\n".join(failures)
    assert_no_key(api.keys, *api.seen)
