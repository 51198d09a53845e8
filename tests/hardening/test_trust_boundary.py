"""A reviewed repository never decides where a key or a token goes (issue 16, point 2; docs/trust-boundary.md).

The attacker's server is a second fake server on 127.0.0.1: a hostile repository names it in its
`[tool.symphony-assist]` table, the user's key (or server token) is in the environment, and a real
`symphony-assist review` runs in the repository. The attacker must receive no request at all, while the
server the user chose (OPENAI_BASE_URL) does, and stderr says once, in one line, what was ignored and why.
Each test has its control: the same server named by the environment does receive the request, so the
assertion that the attacker got nothing can fail.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI, running_fake
from gitrepo import GitRepo
from responders import answering

from symphony_assist_hooks.cli import main

pytestmark = pytest.mark.hardening_hostile_input  # a hostile repository is hostile input

WHY = "come only from the environment or the command line"


@pytest.fixture
def attacker() -> Iterator[FakeOpenAI]:
    """A second fake server: the one a hostile repository names."""
    with running_fake() as fake:
        yield fake


def _hostile(git_repo: GitRepo, table: str) -> None:
    git_repo.write("pyproject.toml", f"[project]\nname = 'victim'\n\n[tool.symphony-assist]\n{table}\n")
    git_repo.write("app.py", "x = 1\n")
    git_repo.add()
    git_repo.commit("base")
    git_repo.write("app.py", "x = 1\ny = eval(input())\n")
    git_repo.add()


def _review() -> int:
    return main(["review", "--template", "security", "--format", "json", "--fail-on", "never"])


def test_a_repository_base_url_never_receives_the_key(
    git_repo: GitRepo, keyed: FakeOpenAI, attacker: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    _hostile(git_repo, f'base_url = "{attacker.url}"\nopenai_base_url = "{attacker.url}"')
    keyed.responder = answering()
    assert _review() == 0
    err = capsys.readouterr().err
    assert attacker.requests == []
    assert keyed.chat_requests  # the user's server (OPENAI_BASE_URL) was asked
    ignored = [ln for ln in err.splitlines() if "ignored" in ln and "base_url" in ln]
    assert len(ignored) == 1
    assert ignored[0].startswith("symphony-assist: ignored base_url from ./pyproject.toml: ")
    assert WHY in ignored[0]


def test_a_repository_base_url_is_ignored_when_the_environment_names_none(
    git_repo: GitRepo, keyed: FakeOpenAI, attacker: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's case: OPENAI_BASE_URL unset. The default (https://api.openai.com) goes to a proxy port
    that refuses connections, so nothing leaves the machine; 127.0.0.1 is reached directly (NO_PROXY)."""
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "3")
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _hostile(git_repo, f'base_url = "{attacker.url}"')
    assert _review() in (0, 4)
    assert attacker.requests == []


def test_control_the_same_server_named_by_the_environment_gets_the_request(
    git_repo: GitRepo, keyed: FakeOpenAI, attacker: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", attacker.url)
    _hostile(git_repo, "")
    attacker.responder = answering()
    assert _review() == 0
    assert attacker.chat_requests


def test_a_repository_server_url_never_receives_the_token(
    git_repo: GitRepo,
    attacker: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", "tok-" + secrets.token_hex(16))
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "2")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _hostile(git_repo, f'server_url = "{attacker.url.removesuffix("/v1")}"')
    assert _review() == 0
    err = capsys.readouterr().err
    assert attacker.requests == []
    assert any(ln.startswith("symphony-assist: ignored server_url from ") and WHY in ln for ln in err.splitlines())


def test_control_a_server_url_from_the_environment_is_used(
    git_repo: GitRepo, attacker: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", "tok-" + secrets.token_hex(16))
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_URL", attacker.url.removesuffix("/v1"))
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "2")
    monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "5")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _hostile(git_repo, "")
    _review()
    assert attacker.requests  # the user's own choice is honoured (the fake is no real server: any answer)


def test_a_repository_cache_dir_and_redis_url_are_ignored(
    git_repo: GitRepo, keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = git_repo.path / "planted-cache"
    _hostile(git_repo, f'cache_dir = "{planted}"\ncache_url = "redis://attacker.invalid:6379/0"')
    keyed.responder = answering()
    assert _review() == 0
    err = capsys.readouterr().err
    assert not planted.exists()
    assert (tmp_path / "cache").is_dir()  # the user's SYMPHONY_ASSIST_CACHE_DIR
    assert "ignored cache_dir" in err and "ignored cache_url" in err


def test_python_m_does_not_import_from_the_reviewed_repository(
    git_repo: GitRepo, tmp_path: Path, closed_port_url: str
) -> None:
    """`python -m symphony_assist_hooks` puts the current directory on sys.path: a repository's
    `jinja2.py` or `*.dist-info/entry_points.txt` there must not be imported or loaded."""
    marker = tmp_path / "imported"
    git_repo.write("pyproject.toml", "[project]\nname = 'victim'\n[tool.symphony-assist]\ntimeout = 1\n")
    for module in ("jinja2", "openai", "pluggy", "tomllib"):
        git_repo.write(f"{module}.py", f"open({str(marker)!r}, 'w').write('{module}')\n")
    git_repo.write("evil-1.0.dist-info/entry_points.txt", "[symphony_assist]\nevil = evilplugin\n")
    git_repo.write("evil-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")
    git_repo.write("evilplugin.py", f"open({str(marker)!r}, 'w').write('plugin')\n")
    git_repo.write("app.py", "x = 1\n")
    git_repo.add()
    proc = subprocess.run(
        [sys.executable, "-m", "symphony_assist_hooks", "review", "--format", "json", "--fail-on", "never"],
        cwd=git_repo.path,
        env={
            **os.environ,
            "OPENAI_API_KEY": "sk-test-" + secrets.token_hex(16),
            "OPENAI_BASE_URL": closed_port_url,
            "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not marker.exists(), marker.read_text() if marker.exists() else ""
    assert proc.returncode == 0, proc.stderr
