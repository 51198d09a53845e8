"""Real temporary git repositories for tests (the pre-commit way: no mocks of git).

    def test_something(git_repo: GitRepo) -> None:
        git_repo.write("a.py", "x = 1\\n")
        git_repo.add("a.py")
        git_repo.commit("first")
        git_repo.write("a.py", "x = 2\\n")
        git_repo.add()                       # no argument: everything (`git add -A`)
        ...                                  # cwd is the repository's root during the test

`GitRepo(path)` is usable on its own too (e.g. a second repository for a submodule or a clone). Every
repository is created with an empty template directory (no hooks from the machine), a fixed identity,
`main` as its branch, no signing and `core.autocrlf=false`; the user's global git config is already
unreachable (tests/conftest.py isolates HOME and sets GIT_CONFIG_NOSYSTEM).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

__all__ = ["GitRepo", "git_repo"]

_CONFIG = {
    "user.name": "Test",
    "user.email": "test@example.invalid",
    "commit.gpgsign": "false",
    "tag.gpgsign": "false",
    "core.autocrlf": "false",
    "init.defaultBranch": "main",
    "protocol.file.allow": "always",  # `git submodule add <local path>` (git >= 2.38.1 blocks it by default)
}


class GitRepo:
    """A git work tree at `path`, created if it does not exist yet."""

    def __init__(self, path: Path, *, init: bool = True) -> None:
        self.path = Path(path)
        if init:
            self.path.mkdir(parents=True, exist_ok=True)
            template = self.path.parent / ".empty-git-template"
            template.mkdir(exist_ok=True)
            self.run("init", "-q", "-b", "main", f"--template={template}")
            for key, value in _CONFIG.items():
                self.run("config", key, value)

    def run(
        self,
        *args: str | os.PathLike[str] | bytes,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        input: bytes | str | None = None,
    ) -> str:
        """`git <args>` in the repository; stdout as text. `env` entries are added to the environment."""
        full_env = {**os.environ, **env} if env else None
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(["git", *args], cwd=self.path, env=full_env, input=data, capture_output=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"git {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
            )
        return proc.stdout.decode("utf-8", "surrogateescape")

    def write(
        self, rel: str | os.PathLike[str] | bytes, content: str | bytes = "", *, executable: bool = False
    ) -> Path:
        """Write a file (parents created); str content is written as UTF-8, bytes as they are."""
        target = Path(os.fsdecode(rel))
        path = self.path / target
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        if executable:
            path.chmod(0o755)
        return path

    def symlink(self, rel: str, target: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        return path

    def add(self, *paths: str | os.PathLike[str] | bytes) -> None:
        """`git add -- <paths>`; with no paths, `git add -A`."""
        if paths:
            self.run("add", "--", *paths)
        else:
            self.run("add", "-A")

    def commit(self, message: str = "commit", *, allow_empty: bool = False) -> str:
        """Commit the index (no hooks run); returns the new commit's id."""
        self.run("commit", "-q", "--no-verify", "-m", message, *(["--allow-empty"] if allow_empty else []))
        return self.head()

    def head(self) -> str:
        return self.run("rev-parse", "HEAD").strip()

    def commit_files(self, files: Mapping[str, str | bytes], message: str = "commit") -> str:
        """Write, add and commit `files` in one step."""
        for rel, content in files.items():
            self.write(rel, content)
        self.add(*files)
        return self.commit(message)


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A fresh, empty repository (no commits yet); the test's cwd is its root."""
    repo = GitRepo(tmp_path / "repo")
    monkeypatch.chdir(repo.path)
    return repo
