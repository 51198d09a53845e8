"""`symphony-assist serve` before it binds: which addresses need a token, a bad port, a missing extra.

uvicorn.run is replaced where the command gets that far: the HTTP API itself is tests/test_server.py's.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.cli import main


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What uvicorn.run was asked to serve (nothing binds)."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    return calls


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize("host", ["assist.example", "10.0.0.7"])
def test_a_name_or_a_lan_address_is_public_and_needs_a_token(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], host: str
) -> None:
    assert main(["serve", "--host", host]) == 2
    line = one_error_line(capsys)
    assert f"refusing to serve on {host} without a token: set SYMPHONY_ASSIST_SERVER_TOKEN" in line
    assert served == []


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_outside_tcp_is_refused(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], port: str
) -> None:
    assert main(["serve", "--host", "localhost", "--port", port]) == 2
    assert f"--port {port} is not a TCP port (0-65535)" in one_error_line(capsys)
    assert served == []


def test_without_the_server_extra_it_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` raises ImportError
    assert main(["serve", "--port", "8765"]) == 2
    assert "serve needs the 'server' extra: pip install" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("host", "url", "docs"),
    [("localhost", "http://localhost:8765", True), ("::1", "http://[::1]:8765", True)],
)
def test_a_loopback_bind_serves_without_a_token(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], host: str, url: str, docs: bool
) -> None:
    assert main(["serve", "--host", host, "--port", "8765"]) == 0
    err = capsys.readouterr().err
    assert f"API on {url} (docs at /docs)" in err
    (call,) = served
    assert (call["host"], call["port"], call["proxy_headers"]) == (host, 8765, False)
    assert call["app"].docs_url == "/docs"


def test_a_public_bind_with_a_token_serves_without_docs(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", secrets.token_urlsafe(32))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8765"]) == 0
    assert "API on http://0.0.0.0:8765\n" in capsys.readouterr().err
    (call,) = served
    assert call["app"].docs_url is None  # public: no docs, the token on every endpoint
