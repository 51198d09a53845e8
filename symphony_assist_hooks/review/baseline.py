"""Suppressions: a baseline of accepted findings, and inline `symphony-assist: ignore` comments.

Baseline file (`write_baseline`), sorted so it diffs well in review:
```
{"version": 1, "tool": "symphony-assist",
 "fingerprints": [{"fingerprint": "…", "rule": "sql-injection", "path": "src/db.py", "title": "…"}]}
```
Only `fingerprint` is used for matching (a plain JSON list of fingerprint strings is accepted too);
rule, path and title are there for humans. A finding's key is its `fingerprint` (path, rule and
the normalised line text: it survives edits elsewhere in the file), or, when it has none, the
same hash over its title.

Inline: a comment on the finding's line, or a comment-only line just above it, containing
`symphony-assist: ignore` (every rule) or `symphony-assist: ignore[rule-a, rule-b]` (rules
compared case-insensitively), after a comment marker: `#`, `//`, `--`, `/*`, `*`, `<!--`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from ..annotators.base import TOOL_NAME, one_line, relative_path
from ..errors import UsageError
from ..findings import Finding, fingerprint

__all__ = [
    "DEFAULT_BASELINE",
    "apply_suppressions",
    "finding_key",
    "inline_rules",
    "is_inline_suppressed",
    "load_baseline",
    "worktree_lines",
    "write_baseline",
]

DEFAULT_BASELINE = ".symphony-assist/baseline.json"  # relative to the repository root

BASELINE_VERSION = 1
_MARKER = r"(?:#|//|--|/\*|\*|<!--)"
_DIRECTIVE = re.compile(
    _MARKER + r"[ \t]*symphony-assist:[ \t]*ignore(?:\[(?P<rules>[^\]\n]*)\])?(?![\w\[-])", re.IGNORECASE
)
_COMMENT_ONLY = re.compile(r"[ \t]*" + _MARKER)
ALL_RULES = frozenset({"*"})


def finding_key(f: Finding) -> str:
    """What the baseline stores for `f`."""
    return f.fingerprint or fingerprint(f.path, f.rule, f.title)


def write_baseline(findings: Iterable[Finding], path: Path) -> int:
    """Record `findings` as accepted (replacing the file atomically); returns how many entries."""
    entries: dict[str, dict[str, str]] = {}
    for f in findings:
        key = finding_key(f)
        entries.setdefault(
            key,
            {
                "fingerprint": key,
                "rule": one_line(f.rule, 200),
                "path": one_line(f.path, 1000),
                "title": one_line(f.title, 200),
            },
        )
    doc = {"version": BASELINE_VERSION, "tool": TOOL_NAME, "fingerprints": [entries[k] for k in sorted(entries)]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(entries)


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints in a baseline file; a missing file is an empty baseline."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read the baseline {path}: {exc}; fix the file or write a new one with --write-baseline"
        ) from exc
    entries = data.get("fingerprints") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f"the baseline {path} has no 'fingerprints' list; write a new one with --write-baseline")
    keys = set()
    for entry in entries:
        key = entry.get("fingerprint") if isinstance(entry, dict) else entry
        if isinstance(key, str) and key:
            keys.add(key)
    return frozenset(keys)


def inline_rules(line: str) -> frozenset[str] | None:
    """The rules an ignore comment on `line` names (`ALL_RULES` for a bare ignore), or None."""
    found: set[str] = set()
    for m in _DIRECTIVE.finditer(line):
        rules = m.group("rules")
        names = {r.lower() for r in re.split(r"[,\s]+", rules or "") if r}
        if not names:
            return ALL_RULES
        found |= names
    return frozenset(found) if found else None


def _covers(rules: frozenset[str] | None, rule: str) -> bool:
    return rules is not None and (rules == ALL_RULES or rule.lower() in rules)


def is_inline_suppressed(f: Finding, file_lines: Callable[[str, int], str]) -> bool:
    """An ignore comment on the finding's first line, or on a comment-only line right above it."""

    def line(n: int) -> str:
        try:
            return file_lines(f.path, n) if n >= 1 else ""
        except (OSError, UnicodeDecodeError):
            return ""

    if _covers(inline_rules(line(f.line)), f.rule):
        return True
    above = line(f.line - 1)
    return bool(_COMMENT_ONLY.match(above)) and _covers(inline_rules(above), f.rule)


def apply_suppressions(
    findings: Iterable[Finding],
    baseline_path: Path | None,
    file_lines: Callable[[str, int], str],
) -> tuple[list[Finding], int]:
    """(the findings still reported, how many were suppressed by the baseline or inline comments).

    `file_lines(path, lineno)` returns the 1-based line of the reviewed version of a file, "" if
    there is none (see `worktree_lines`; a staged review should read the index instead).
    """
    baseline = load_baseline(baseline_path) if baseline_path is not None else frozenset()
    kept: list[Finding] = []
    suppressed = 0
    for f in findings:
        if finding_key(f) in baseline or any(is_inline_suppressed(v, file_lines) for v in _as_reported(f)):
            suppressed += 1
        else:
            kept.append(f)
    return kept, suppressed


def _as_reported(f: Finding) -> list[Finding]:
    """`f` under each rule it was reported with: a merged finding (review/merge.py) is one problem, so an
    inline `ignore[...]` naming the model's rule or the analyzer's suppresses it."""
    rules = dict.fromkeys([f.rule, *(o.rule for o in f.origins)])
    return [f if rule == f.rule else f.with_(rule=rule) for rule in rules]


def worktree_lines(root: Path) -> Callable[[str, int], str]:
    """`file_lines` reading files under `root` from disk (cached per file; "" when unreadable)."""

    @lru_cache(maxsize=256)
    def lines_of(path: str) -> tuple[str, ...]:
        rel = relative_path(path, Path(root))
        if rel is None:  # never read outside the repository
            return ()
        try:
            return tuple((Path(root) / rel).read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            return ()

    def file_lines(path: str, lineno: int) -> str:
        lines = lines_of(path)
        return lines[lineno - 1] if 1 <= lineno <= len(lines) else ""

    return file_lines
