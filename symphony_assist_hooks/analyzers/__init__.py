"""Local analyzers: what answers when the model cannot (no key, no network, budget spent).

One `Protocol` per kind: `Analyzer` reviews changed files for a template (security, code_review);
`FailureAnalyzer` explains a failing test (testing). Every answer is labelled source="local".
`run_local_review` is the one entry point for diffs: it never raises, and reports what it could not do as
one-line notices next to the findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..findings import Finding, fingerprint
from . import builtin
from .common import Analyzer, FailureAnalyzer, Target

__all__ = ["run_local_review"]


def run_local_review(
    templates: Sequence[str],
    targets: Sequence[Target],
    extra: Mapping[str, Analyzer | FailureAnalyzer] | None = None,
) -> tuple[list[Finding], list[str]]:
    """Run the analyzers for `templates` → (findings, notices).

    The analyzers are the built-ins' registrations (builtin.py, the `register_analyzers` hook),
    overridden by `extra` (`plugins.analyzers()`: the same hook through the plugin manager).

    Never raises: an analyzer that crashes becomes a notice and the others still run. Findings are kept to
    the targets' changed lines, labelled source="local" and template=<name>, fingerprinted, de-duplicated
    and sorted by path, line and severity (most severe first).
    """
    registry: dict[str, Analyzer | FailureAnalyzer] = {}
    if any(t in ("security", "code_review") for t in templates):
        builtin.register_analyzers(register=lambda name, analyzer: registry.update({name: analyzer}))
    registry.update(extra or {})
    by_path = {t.path: t for t in targets}
    findings: list[Finding] = []
    notices: list[str] = []
    for name in dict.fromkeys(templates):
        analyzer = registry.get(name)
        if analyzer is None:
            if name != "testing":
                notices.append(f"no local analyzer for template '{name}'")
            continue
        review = getattr(analyzer, "review", None)
        if not callable(review):
            continue  # a FailureAnalyzer explains test failures; it has nothing to say about a diff
        try:
            analyze = getattr(analyzer, "analyze", None)
            if callable(analyze):
                outcome = analyze(targets)
                produced, said = list(outcome.findings), list(outcome.notices)
            else:
                produced, said = list(review(targets)), []
        except Exception as exc:  # a plugin bug must not break a commit: say so and go on
            notices.append(f"local analyzer '{name}' failed: {type(exc).__name__}: {exc}"[:300])
            continue
        notices.extend(said)
        findings.extend(_normalise(f, name, by_path) for f in produced if _on_changed_line(f, by_path))
    unique = {(f.path, f.line, f.rule): f for f in reversed(findings)}
    ordered = sorted(unique.values(), key=lambda f: (f.path, f.line, -f.severity.rank, f.rule))
    return ordered, list(dict.fromkeys(notices))


def _on_changed_line(finding: Finding, by_path: Mapping[str, Target]) -> bool:
    target = by_path.get(finding.path)
    return target is not None and target.anchor(finding.line, finding.end_line) is not None


def _normalise(finding: Finding, template: str, by_path: Mapping[str, Target]) -> Finding:
    target = by_path[finding.path]
    line = target.anchor(finding.line, finding.end_line) or finding.line
    return finding.with_(
        line=line,
        end_line=max(line, finding.end_line),
        source="local",
        template=finding.template or template,
        fingerprint=finding.fingerprint or fingerprint(finding.path, finding.rule, target.line(line)),
    )
