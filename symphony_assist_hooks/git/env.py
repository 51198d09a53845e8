"""What every git process gets: options pinned against the user's git config, and the environment.

Standard library `os` only: the replay path (replay.py) starts git with these before anything else
is imported, and `gitcli.run` starts every other git process with the same (docs/reference.md#git-inputs:
user git config, GIT_INDEX_FILE).
"""

from __future__ import annotations

import os

__all__ = ["DIFF_OPTIONS", "GLOBAL_OPTIONS", "STAGED_RAW", "git_env", "raw_listing"]

# Pin everything the user's config could change in the output.
GLOBAL_OPTIONS = (
    "-c", "core.quotepath=off",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "color.ui=never",
    "-c", "diff.suppressBlankEmpty=false",
    "--no-pager",
    "--literal-pathspecs",
)  # fmt: skip
DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "-M",
    "--no-relative",
    "--submodule=short",
    "--diff-algorithm=default",
    "--indent-heuristic",
    "--inter-hunk-context=0",
    "--ignore-submodules=none",
)


def raw_listing(diff_args: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`git diff` arguments listing the changed files: paths, both modes and both blob ids, no content."""
    return ("diff", *diff_args, "--raw", "-z", "--no-abbrev", *DIFF_OPTIONS)


# The staged changes' listing: what a review of the staged index reads first, and the replay key.
STAGED_RAW = raw_listing(["--cached"])
# Environment variables that change diff output; everything else (GIT_INDEX_FILE, GIT_DIR, ...) is kept.
_DROP_ENV = ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS")


def git_env() -> dict[str, str]:
    """The caller's environment for a git process, minus what changes diff output."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never take index.lock: `git commit` holds it while hooks run
    env["GIT_TERMINAL_PROMPT"] = "0"
    index = env.get("GIT_INDEX_FILE")
    if index and not os.path.isabs(index):  # relative to the hook's cwd; we may run git elsewhere
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    return env
