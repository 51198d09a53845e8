"""The local analyzers on every reviewed file, with or without a key, remembered per file.

The analyzers read a whole changed file (taint follows data across it), so what they say depends on the
file's content, its changed lines and the analyzers' own code: that is the memo key. The memo is this
machine's scan memo (`Assistant.scans`, never shared through Redis), so a repeat run of the same staged
content runs no analyzer and imports no bandit. The analyzers' code is stamped by the size and mtime of
their modules (cheap: a few dozen `stat` calls) besides the package version, and the tools they run
(bandit, ruff) by the mtime of the `site-packages` folders and the scripts folder (installing or upgrading
a package changes them; replay relies on the same), so an upgrade or an edit of an analyzer is never
answered from an older memo. Analyzers a third-party plugin registers are not
remembered: their code cannot be stamped.

A run answered wholly from the memo never imports the analyzers package (its import is ~100 ms of our own
modules, the failure explainers included): files come in as `Changed` records, and an `analyzers.Target` is
built only for a file that must be analyzed.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..assistant import content_hash
from ..findings import Finding

if TYPE_CHECKING:
    from ..analyzers.common import Analyzer, FailureAnalyzer
    from ..assistant.cache import Cache

__all__ = ["Changed", "analyze"]

LOCAL_FORMAT = "1"
_PACKAGE = Path(__file__).resolve().parent.parent
_STAMPED = ("analyzers", "scan", "explainers")


@dataclass(frozen=True)
class Changed:
    """One changed file as the memo keys it: its new text and the lines the change added."""

    path: str
    text: str
    changed_lines: frozenset[int]
    language: str = ""


@cache
def _code_stamp() -> str:
    """Size and mtime of every module the analyzers run, as one string."""
    parts = [__version__, LOCAL_FORMAT]
    for folder in _STAMPED:
        try:
            with os.scandir(_PACKAGE / folder) as entries:
                for e in sorted(entries, key=lambda e: e.name):
                    if e.name.endswith(".py"):
                        st = e.stat()
                        parts.append(f"{folder}/{e.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{folder}:unreadable")
    tools = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
    for folder in dict.fromkeys([*tools, sysconfig.get_path("scripts")]):
        try:
            parts.append(f"{folder}:{os.stat(folder).st_mtime_ns}")
        except OSError:
            continue
    return "\0".join(parts)


def _key(templates: Sequence[str], target: Changed) -> str:
    lines = ",".join(map(str, sorted(target.changed_lines)))
    return content_hash(
        f"review-local\0{_code_stamp()}\0{','.join(templates)}\0{target.path}\0{target.language}\0{lines}\0"
        f"{content_hash(target.text)}"
    )


def analyze(
    templates: Sequence[str],
    targets: Sequence[Changed],
    memo: Cache | None,
    extra: Mapping[str, Analyzer | FailureAnalyzer] | None = None,
) -> tuple[list[Finding], list[str]]:
    """`run_local_review` over `targets`, answered from `memo` where it knows a target → (findings, notices).

    Targets the memo does not know are analyzed together (bandit runs once for all of them), and each
    one's findings and the batch's notices are remembered under that target's key.
    """
    names = tuple(dict.fromkeys(templates))
    if extra or memo is None:
        return _run(names, targets, extra)
    findings: list[Finding] = []
    notices: list[str] = []
    missing: list[tuple[Changed, str]] = []
    for target in targets:
        key = _key(names, target)
        known = _recall(memo.get(key))
        if known is None:
            missing.append((target, key))
            continue
        findings += known[0]
        notices += known[1]
    if missing:
        found, said = _run(names, [t for t, _ in missing], extra)
        findings += found
        notices += said
        for target, key in missing:
            mine = [f.to_dict() for f in found if f.path == target.path]
            memo.set(key, {"f": mine, "n": said})
    return findings, list(dict.fromkeys(notices))


def _run(
    names: Sequence[str], files: Sequence[Changed], extra: Mapping[str, Analyzer | FailureAnalyzer] | None
) -> tuple[list[Finding], list[str]]:
    # deferred: ~100 ms of imports a memo hit skips (module docstring)
    from ..analyzers import run_local_review
    from ..analyzers.common import Target

    targets = [Target(path=c.path, text=c.text, changed_lines=c.changed_lines, language=c.language) for c in files]
    return run_local_review(names, targets, extra)


def _recall(entry: Mapping[str, Any] | None) -> tuple[list[Finding], list[str]] | None:
    """A memo entry as findings and notices; None when absent or damaged (then the file is analyzed again)."""
    if entry is None or not isinstance(entry.get("f"), list) or not isinstance(entry.get("n"), list):
        return None
    try:
        return [Finding.from_dict(d) for d in entry["f"]], [str(n) for n in entry["n"]]
    except (KeyError, TypeError, ValueError):
        return None
