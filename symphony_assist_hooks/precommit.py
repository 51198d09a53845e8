"""pre-commit integration: which changes a hook run should review, and entry points for the hooks.

pre-commit sets PRE_COMMIT=1 for every hook, and PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF for pre-push
(and `pre-commit run --from-ref … --to-ref …`). Without them a hook reviews the staged index, which
pre-commit has already made equal to what will be committed. GIT_INDEX_FILE is kept (git.py) so
`git commit -a` and `git commit <path>` are reviewed exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["main", "range_from_env"]


def range_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`FROM...TO` when pre-commit (pre-push, or run --from-ref/--to-ref) names a range, else None."""
    env = os.environ if env is None else env
    src, dst = env.get("PRE_COMMIT_FROM_REF"), env.get("PRE_COMMIT_TO_REF")
    if src and dst:
        if set(src) == {"0"}:  # a new branch pushed: git gives the all-zero sha; review only TO itself
            return f"{dst}~1..{dst}"
        return f"{src}...{dst}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """`symphony-assist review --pre-commit` with extra arguments (pre-commit's `args:`)."""
    from .cli import main as cli_main  # deferred: the replay-first entry point imports the CLI only on a miss

    return cli_main(["review", "--pre-commit", *(argv or [])])
