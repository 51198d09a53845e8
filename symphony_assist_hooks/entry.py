"""The `symphony-assist` command's entry point: a replayed review first, else the full command line.

This module and what it imports (replay.py, gitenv.py and the package's `__init__`) stay on `os`, `sys`
and `time`: a pre-commit hook re-run on unchanged, fully cached staged changes is answered here
(replay.py) before argparse, typing or any of the review machinery is loaded.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main", "tolerant_streams"]


def tolerant_streams() -> None:
    """stdout and stderr that replace what their encoding cannot show (PYTHONIOENCODING=ascii, a legacy
    console code page) instead of failing the hook on a "·" in the summary or a name in a finding; a
    closed one (`>&-`) becomes os.devnull: the exit code still says what was found."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            reconfigure(errors="replace")


def main() -> int:
    from .review.replay import replay  # deferred: entry.py is the console script; replay answers first

    tolerant_streams()
    try:
        code = replay(sys.argv[1:])
    except KeyboardInterrupt:
        from .errors import EXIT_INTERRUPTED  # deferred: the replayed run never needs the error table

        sys.stderr.write("symphony-assist: interrupted\n")
        return EXIT_INTERRUPTED
    if code is not None:
        return code
    from .cli import main as cli_main  # deferred: argparse and the CLI only when replay cannot answer

    return cli_main()
