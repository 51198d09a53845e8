"""One list of findings from the local analyzers and the model: the model adds, it never removes.

The rule (README "How findings are merged"): a model finding and an analyzer finding describe the same
problem when they are on the same file, their line ranges overlap or touch (±1 line), and their rules
belong to the same family (`families.py`: the families `eval` scores by; the family "other" never
matches, it says nothing about the problem). They become one finding that keeps the analyzer's location,
rule and fingerprint (so a baseline entry keeps matching whether or not the model also spoke), the stronger
of the two severities, and both sources in `Finding.sources`. A model finding that matches several analyzer
findings is folded into each; one that matches none stays on its own. Findings of the same kind are only
de-duplicated exactly (same file, line and rule), as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..families import family_of
from ..findings import Finding, Origin
from ..git.model import Hunk

__all__ = ["KNOWN_PREFIX", "known_line", "merge_findings", "same_problem"]

_VAGUE = "other"
KNOWN_PREFIX = "~ found locally, do not repeat:"


def same_problem(a: Finding, b: Finding) -> bool:
    """Same file, line ranges within one line of each other, same (known) family."""
    if a.path != b.path:
        return False
    if a.line > b.end_line + 1 or b.line > a.end_line + 1:
        return False
    family = family_of(a.rule)
    return family != _VAGUE and family == family_of(b.rule)


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The merged list, sorted by path, line, severity (most severe first) and rule. Never drops a
    problem: every input is either kept or folded into a finding that names it as a source."""
    analyzer: list[Finding] = []
    model: list[Finding] = []
    for f in _exact(findings):
        (analyzer if f.source == "local" else model).append(f)
    merged = list(analyzer)
    loose: list[Finding] = []
    for m in model:
        hits = [i for i, a in enumerate(merged) if same_problem(a, m)]
        if not hits:
            loose.append(m)
        for i in hits:
            merged[i] = _fold(merged[i], m)
    out = merged + loose
    return sorted(out, key=lambda f: (f.path, f.line, -f.severity.rank, f.rule))


def _exact(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (kind, path, line, rule): the most severe."""
    seen: dict[tuple[bool, str, int, str], Finding] = {}
    for f in findings:
        k = (f.source == "local", f.path, f.line, f.rule)
        if k not in seen or f.severity.rank > seen[k].severity.rank:
            seen[k] = f
    return list(seen.values())


def _fold(base: Finding, other: Finding) -> Finding:
    """`base` (the analyzer's) with `other`'s origin added, the stronger severity, and `other`'s text
    where the analyzer had none."""
    severity = other.severity if other.severity.rank > base.severity.rank else base.severity
    return base.with_(
        severity=severity,
        suggestion=base.suggestion or other.suggestion,
        message=base.message or other.message,
        sources=_union(base.origins, other.origins),
    )


def _union(*groups: Sequence[Origin]) -> tuple[Origin, ...]:
    return tuple(dict.fromkeys(o for g in groups for o in g))


def known_line(hunk: Hunk, findings: Iterable[Finding]) -> str:
    """What the local analyzers already found on `hunk`'s added lines, as one line the model reads after
    the hunk (`~ found locally, do not repeat: L2 bandit/B602, L5 secret`), or "" when nothing.

    The model need not spend output on what is reported anyway; a repeat costs nothing more than tokens
    (it is merged). The line cannot be forged from the repository: every line of a hunk starts with its
    number and `+`, a space or `-`, never with `~`; and it could not hide a finding if it were.
    """
    added = set(hunk.added_lines)
    mine = (f for f in findings if f.path == hunk.path and f.line in added)
    known = sorted({(local, f.rule) for f in mine if (local := hunk.to_local(f.line))})
    return f"{KNOWN_PREFIX} " + ", ".join(f"L{n} {rule}" for n, rule in known) if known else ""
