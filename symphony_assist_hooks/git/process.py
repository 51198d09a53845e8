"""The one subprocess wrapper through which every git command runs (`run`), and `repo_root`.

Every call pins the output format against the user's git config (`diff.noprefix`, `diff.mnemonicPrefix`,
colour, `diff.external`, textconv drivers, `diff.relative`, `diff.submodule`, `diff.algorithm`,
`diff.indentHeuristic`, `diff.interHunkContext`, `diff.suppressBlankEmpty`) and keeps
the caller's environment: under `git commit -a` git points `GIT_INDEX_FILE` at a temporary index, and
the staged diff is that index (docs/reference.md#git-inputs); both live in gitenv.py. Errors become one `GitError`
line quoting git.

Internal to `git.py`, which re-exports `repo_root` and `PathArg`. Callers elsewhere call `gitcli.run`
through the module, so replacing that one attribute intercepts every git process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import GitError
from .env import DIFF_OPTIONS, GLOBAL_OPTIONS, git_env

__all__ = ["DIFF_OPTIONS", "PathArg", "repo_root", "run"]

PathArg = str | os.PathLike[str]


def _git_message(stderr: bytes) -> str:
    """git's own error, as one line: the first fatal:/error: line, else the first non-empty one."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:")):
            return ln[:300]
    return lines[0][:300] if lines else "no message"


def run(
    args: Sequence[str | bytes],
    *,
    cwd: PathArg | None = None,
    stdin: bytes | None = None,
    ok: tuple[int, ...] = (0,),
) -> tuple[int, bytes]:
    """Run git; return (exit code, stdout bytes). An exit code outside `ok` raises GitError."""
    cmd: list[str | bytes] = ["git", *GLOBAL_OPTIONS, *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, env=git_env(), check=False)
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise GitError(f"not inside a git work tree: {os.fspath(cwd)!r} is not a directory") from None
        raise GitError("git is not installed or not on PATH: install git, or fix PATH") from None
    except OSError as exc:
        raise GitError(f"could not run git: {exc.strerror or exc}") from None
    if proc.returncode not in ok:
        message = _git_message(proc.stderr)
        verb = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if "dubious ownership" in message:
            raise GitError(f"git refuses this repository ({message}); if you trust it, run the "
                           "`git config --global --add safe.directory` command git suggests")  # fmt: skip
        raise GitError(f"git {verb} failed: {message}")
    return proc.returncode, proc.stdout


_ROOTS: dict[str, Path] = {}


def repo_root(cwd: PathArg | None = None) -> Path:
    """The top of the work tree containing `cwd` (default: the current directory). GitError otherwise.

    Remembered per directory for the life of the process: one run asks several times (changes, file
    contents, the annotations' workspace), and every git spawn costs the hook milliseconds.
    """
    where = os.path.abspath(os.fspath(cwd) if cwd is not None else os.curdir)
    known = _ROOTS.get(where)
    if known is not None:
        return known
    root = _ask_root(cwd)
    _ROOTS[where] = root
    return root


def _ask_root(cwd: PathArg | None) -> Path:
    try:
        _, out = run(["rev-parse", "--is-inside-work-tree", "--show-toplevel"], cwd=cwd)
    except GitError as exc:
        if "git is not installed" in str(exc):
            raise
        raise GitError(f"not inside a git work tree: {str(exc).removeprefix('git rev-parse failed: ')}") from None
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or lines[0] != "true":
        raise GitError("not inside a git work tree (a bare repository or the .git directory)")
    return Path(lines[1])
