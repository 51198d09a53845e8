"""Remote mode end to end: the command, the hook and `pytest --assist` with only
SYMPHONY_ASSIST_SERVER_URL set, against a real server (uvicorn on 127.0.0.1) that holds the keys,
with the fake OpenAI server behind it (issue #7). No OpenAI key is in the client's environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from responders import answering, finding
from test_server import assert_no_key, server_settings, serving

from symphony_assist_hooks import precommit
from symphony_assist_hooks.assistant.provider.openai import ChatRequest
from symphony_assist_hooks.assistant.provider.remote import RemoteBudgetError, RemoteProvider
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.errors import AuthError, BudgetError, UnavailableError
from symphony_assist_hooks.server import create_app, guard
from symphony_assist_hooks.server.guard import Limits

ORIGINAL = "def total(xs):\n    return sum(xs)\n"
CHANGED = "def total(xs):\n    result = eval(xs)\n    return result\n"


class Recorder:
    """ASGI wrapper that records the path of every HTTP request the server receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Remote:
    url: str
    keys: dict[str, str]
    recorder: Recorder
    fake: FakeOpenAI
    outputs: list[str] = field(default_factory=list)

    @property
    def completes(self) -> int:
        return self.recorder.paths.count("/assistant/complete")


@pytest.fixture
def remote(fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Remote]]:
    """remote(public=False, client_token=True, limits=None, **server_env) → a server, and the client's
    environment pointed at it: SYMPHONY_ASSIST_SERVER_URL, a private cache dir, no OpenAI key."""
    stack = contextlib.ExitStack()
    fake_openai.responder = answering(findings=lambda *_: [finding(2, rule="eval-use")])

    def _start(
        *, public: bool = False, client_token: bool | str = True, limits: Limits | None = None, **env: str
    ) -> Remote:
        settings, keys = server_settings(tmp_path, fake_openai, **env)
        recorder = Recorder(create_app(settings, public=public, limits=limits))
        url = stack.enter_context(serving(recorder))
        monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_URL", url)
        monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "client-cache"))
        if client_token:
            monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", keys["token"] if client_token is True else client_token)
        assert not any(k.startswith("OPENAI_") for k in os.environ)
        return Remote(url, keys, recorder, fake_openai)

    with stack:
        yield _start


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository with a committed file and a staged change that uses eval()."""
    path = tmp_path / "repo"
    path.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (path / "calc.py").write_text(ORIGINAL)
    git("add", "calc.py")
    git("commit", "-q", "-m", "first")
    (path / "calc.py").write_text(CHANGED)
    git("add", "calc.py")
    monkeypatch.chdir(path)
    return path


def run(capsys: pytest.CaptureFixture[str], remote: Remote, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    remote.outputs += [out.out, out.err]
    return code, out.out, out.err


# ---------------------------------------------------------------------------------------- the command
def test_query_through_the_server_then_the_client_cache(
    remote: Callable[..., Remote], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    r = remote()
    code, out, _ = run(capsys, r, "query", "What is a mutex?", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["content"] == "answer to: What is a mutex?"
    assert doc["cached"] is False
    assert doc["usage"]["total_tokens"] > 0
    assert (r.completes, len(r.fake.chat_requests)) == (1, 1)
    code, out, _ = run(capsys, r, "query", "What is a mutex?", "--json")
    assert json.loads(out)["cached"] is True
    assert r.completes == 1  # answered from this machine's cache: the server was not asked
    client_cache = "".join(
        p.read_bytes().decode("latin-1") for p in (tmp_path / "client-cache").rglob("*") if p.is_file()
    )
    assert_no_key(r.keys, client_cache, *r.outputs)


def test_models_through_the_server(remote: Callable[..., Remote], capsys: pytest.CaptureFixture[str]) -> None:
    r = remote()
    code, out, _ = run(capsys, r, "models", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["works"] is True
    assert "gpt-4o-mini" in doc["models"]


def test_review_and_hook_through_the_server(
    remote: Callable[..., Remote], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = remote()
    code, out, _ = run(capsys, r, "review", "--format", "json")
    assert code == 1  # a high finding on a changed line
    doc = json.loads(out)
    api = [(f["path"], f["line"], o["via"]) for f in doc["findings"] for o in f["sources"] if o["rule"] == "eval-use"]
    assert api == [("calc.py", 2, "api")]  # the model's finding, merged with the local eval finding
    assert r.completes == 1
    code, out, _ = run(capsys, r, "review", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    again = [(f["line"], o["via"]) for f in doc["findings"] for o in f["sources"] if o["rule"] == "eval-use"]
    assert again == [(2, "cache")]
    assert precommit.main([]) == 1  # the pre-commit hook: the same review, the client's cache again
    capsys.readouterr()
    assert r.completes == 1
    assert len(r.fake.chat_requests) == 1


def test_pytest_assist_through_the_server(remote: Callable[..., Remote], pytester: pytest.Pytester) -> None:
    r = remote()
    pytester.makepyfile(test_numbers="def test_sum():\n    assert sum([1, 2]) == 4\n")
    result = pytester.runpytest("--assist", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "(from the API)" in result.stdout.str()
    assert r.completes == 1


# ---------------------------------------------------------------------------------------- faults
def test_server_down_falls_back_in_one_line(
    remote: Callable[..., Remote],
    closed_port_url: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = remote()
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_URL", closed_port_url.removesuffix("/v1"))
    code, _, err = run(capsys, r, "query", "anyone there?")
    assert code == 4
    where = closed_port_url.removesuffix("/v1")
    refused = f"cannot reach the symphony-assist server at {where}: connection refused"  # one try: no "after 3 tries"
    assert err == f"symphony-assist: error: {refused}; query has no offline answer\n"
    code, out, err = run(capsys, r, "review", "--format", "json")
    assert code in (0, 1)  # fail open: whatever the local analyzers found
    assert all(f["source"] == "local" for f in json.loads(out)["findings"])
    assert json.loads(out)["summary"]["fallback_reason"] == refused
    assert [line for line in err.splitlines() if "connection refused" in line]
    assert r.completes == 0


def test_server_budget_refusal_exits_5(remote: Callable[..., Remote], capsys: pytest.CaptureFixture[str]) -> None:
    r = remote(SYMPHONY_ASSIST_BUDGET_MONTHLY="0.0000001")
    code, _, err = run(capsys, r, "query", "expensive")
    assert code == 5
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "error: budget (the symphony-assist server at http://127.0.0.1:" in lines[0]
    assert "monthly cap" in lines[0]
    assert r.fake.requests == []


def test_token_failures_are_auth_errors(
    remote: Callable[..., Remote], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = remote(public=True, client_token=False)
    code, _, err = run(capsys, r, "query", "who am I?")
    assert code == 4
    assert "requires a token: set SYMPHONY_ASSIST_SERVER_TOKEN" in err
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", "wrong-" + "x" * 40)
    code, _, err = run(capsys, r, "query", "who am I?")
    assert code == 4
    assert "rejected the token" in err
    assert "wrong-" not in err
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", r.keys["token"])
    code, _, _ = run(capsys, r, "query", "who am I?")
    assert code == 0
    assert r.fake.chat_requests


def test_upstream_faults_map_back(remote: Callable[..., Remote], capsys: pytest.CaptureFixture[str]) -> None:
    r = remote()
    r.fake.fail(404, code="model_not_found", times=1)
    code, out, _ = run(capsys, r, "query", "fallback please", "--json")
    assert code == 0
    assert json.loads(out)["model"] == "gpt-4o"  # the client's pipeline asked for its fallback model
    assert r.completes == 2
    r.fake.fail(401, code="invalid_api_key", times=None)  # the server's keys are both refused
    code, _, err = run(capsys, r, "query", "keys?")
    assert code == 4
    assert "rejected" in err
    assert_no_key(r.keys, *r.outputs)


def test_rate_limited_client_waits_and_retries(remote: Callable[..., Remote], monkeypatch: pytest.MonkeyPatch) -> None:
    # The server's token bucket reads an injected clock that moves only when the client sleeps: a busy
    # machine (a slow request) cannot refill the bucket behind the test's back.
    now = [1000.0]
    monkeypatch.setattr(guard, "time", SimpleNamespace(monotonic=lambda: now[0]))
    remote(limits=Limits(burst=1, per_second=2))
    provider = RemoteProvider(load_settings())
    provider.list_models(deadline=time.monotonic() + 10)  # spends the only token
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    provider._sleep = sleep  # type: ignore[method-assign]
    chat = ChatRequest("system", "user text", "gpt-4o-mini", 0.0, 50)
    done = provider.complete(chat, deadline=time.monotonic() + 10)
    assert done.content
    assert done.attempts == 2
    assert slept == [1.0]  # the server's Retry-After


def test_provider_errors(remote: Callable[..., Remote], closed_port_url: str) -> None:
    r = remote(SYMPHONY_ASSIST_BUDGET_MONTHLY="0.0000001")
    provider = RemoteProvider(load_settings())
    chat = ChatRequest("system", "user text", "gpt-4o-mini", 0.0, 50)
    with pytest.raises(RemoteBudgetError) as budget:
        provider.complete(chat, deadline=time.monotonic() + 10)
    assert isinstance(budget.value, BudgetError)
    assert isinstance(budget.value, UnavailableError)  # the pipeline stops and falls back
    assert budget.value.exit_code == 5
    assert budget.value.__context__ is None
    with pytest.raises(UnavailableError, match="deadline"):
        provider.complete(chat, deadline=time.monotonic() - 1)
    down = RemoteProvider(load_settings(env={"SYMPHONY_ASSIST_SERVER_URL": closed_port_url}))
    with pytest.raises(UnavailableError, match="connection refused") as refused:
        down.complete(chat, deadline=time.monotonic() + 10)
    assert refused.value.__context__ is None
    assert r.fake.requests == []


def test_public_server_refuses_a_wrong_token_as_auth_error(remote: Callable[..., Remote]) -> None:
    remote(public=True, client_token="not-the-token-" + "y" * 30)
    with pytest.raises(AuthError, match="rejected the token"):
        RemoteProvider(load_settings()).list_models(deadline=time.monotonic() + 10)


def test_remote_mode_imports_nothing_heavy() -> None:
    """RemoteProvider is stdlib only and the serve command imports fastapi only when it runs."""
    code = (
        "import sys\n"
        "import symphony_assist_hooks.assistant.provider.remote, symphony_assist_hooks.cli.commands.serve\n"
        "print(sorted(m for m in ('openai', 'httpx2', 'fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
