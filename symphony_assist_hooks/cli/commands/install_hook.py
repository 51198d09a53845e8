"""`symphony-assist install-hook [--pre-push] [--force]`: plain git hooks for people without pre-commit.

An existing hook is never overwritten silently: without --force the command refuses with one line; with
--force the old hook is kept next to it as `<name>.orig`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
from pathlib import Path

from ...config import Settings
from ...errors import EXIT_OK, UsageError
from ...git import changes as git
from ...terminal.console import Console

MARKER = "symphony-assist"


def _hook_source(name: str) -> str:
    here = Path(__file__).resolve().parents[2]
    for candidate in (here / "hooks" / name, here.parent / "hooks" / name):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise UsageError(f"the {name} hook script is missing from this installation")


def _hooks_dir() -> Path:
    """Where git runs hooks from: honours core.hooksPath and worktrees (`git rev-parse --git-path`)."""
    root = git.repo_root()
    out = subprocess.run(
        ["git", "rev-parse", "--git-path", "hooks"], cwd=root, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise UsageError(f"cannot find the git hooks directory: {out.stderr.strip() or 'git failed'}")
    path = Path(out.stdout.strip())
    return path if path.is_absolute() else root / path


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    names = ["pre-commit"] + (["pre-push"] if args.pre_push else [])
    hooks_dir = _hooks_dir()
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = hooks_dir / name
        body = _hook_source(name)
        if target.exists():
            current = target.read_text(encoding="utf-8", errors="replace")
            if current == body:
                console.print(f"{name}: already installed at {target}")
                continue
            if not args.force:
                raise UsageError(
                    f"{target} already exists and is not ours: re-run with --force "
                    f"to replace it (the old hook is kept as {name}.orig)"
                )
            shutil.copy2(target, target.with_name(name + ".orig"))
        target.write_text(body, encoding="utf-8")
        os.chmod(target, target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)  # noqa: S103 - a git hook must be executable
        console.print(f"{name}: installed at {target}")
    return EXIT_OK
