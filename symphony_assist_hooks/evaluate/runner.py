"""Running cases through the normal pipeline with one Assistant: reviews in scratch repositories, failures
through explain."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..assistant import Assistant
from ..assistant.stats import StatsLog
from ..errors import GitError
from ..explain.requests import explain_failures
from ..findings import Finding, Report
from ..git import changes as git
from ..review.pipeline import ReviewOptions, review_changes
from .cases import TOLERANCE, Case
from .scoring import score_diff, score_failure, summarize

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..config import Settings

__all__ = ["BUILTIN", "FINDINGS", "FORMAT", "EvalOptions", "run_eval"]

FORMAT = 1
BUILTIN = "built-in"
# Which findings of a review are scored: what users get (the merged list), or one side of it.
FINDINGS = ("merged", "model", "analyzers")


@dataclass(frozen=True)
class EvalOptions:
    review_templates: tuple[str, ...] = ("code_review", "security")  # for diff cases; () skips them
    explain_template: str | None = "testing"  # for failing tests; None skips them
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    suite: str = BUILTIN
    findings: str = "merged"  # one of FINDINGS


_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


def _new_text(fd: git.FileDiff) -> str:
    """The new file as far as the diff shows it; lines it does not show are blank (line numbers kept)."""
    lines = {ln.new_no: ln.text for h in fd.hunks for ln in h.lines if ln.new_no is not None}
    return "".join(lines.get(n, "") + "\n" for n in range(1, max(lines, default=0) + 1))


def _git_init(root: Path) -> None:
    for args in (("init", "-q", "--template="), ("add", "-A", "-f", "--", ".")):
        try:
            proc = subprocess.run(
                ["git", "-c", "core.autocrlf=false", "-c", "init.defaultBranch=main", *args],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise GitError(f"could not run git for an eval case: {exc.strerror or exc}") from None
        if proc.returncode:
            message = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise GitError(f"git {args[0]} failed for an eval case: {message}")


@contextlib.contextmanager
def _scratch_repo(files: Mapping[str, str]) -> Iterator[None]:
    """A throw-away repository whose index holds `files`, as the working directory.

    The review reads a changed file's content from the index (`git.file_text`), so each diff case is
    staged in its own repository. Changes the process's cwd and git environment: cases run one at a time.
    """
    saved = {k: os.environ.pop(k) for k in _GIT_ENV if k in os.environ}
    try:
        with tempfile.TemporaryDirectory(prefix="symphony-eval-") as tmp:
            root = Path(tmp)
            for rel, text in files.items():
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(text.encode("utf-8"))
            _git_init(root)
            with contextlib.chdir(root):
                yield
    finally:
        os.environ.update(saved)


def _review(case: Case, settings: Settings, options: EvalOptions, assistant: Assistant) -> Report:

    files = git.parse_patch(case.diff)
    changes = git.Changes(files=files, skipped={}, source="staged")
    opts = ReviewOptions(
        templates=options.review_templates,
        model=options.model,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
    )
    with _scratch_repo({fd.path: _new_text(fd) for fd in files if fd.status != "D" and fd.path}):
        return review_changes(settings, opts, assistant=assistant, changes=changes)


def _explain(cases: Sequence[Case], settings: Settings, template: str, assistant: Assistant) -> Report:

    failures = [c.failure for c in cases if c.failure is not None]
    with tempfile.TemporaryDirectory(prefix="symphony-eval-") as root:  # no project files: same answer anywhere
        explained = explain_failures(
            failures, settings, template=template, max_failures=len(failures), root=root, assistant=assistant
        )
    return explained.report


def run_eval(
    cases: Sequence[Case],
    settings: Settings,
    options: EvalOptions,
    *,
    assistant: Assistant | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every case through the pipeline with one Assistant (one run budget) → the result document."""

    settings = replace(settings, cache_dir=settings.resolved_cache_dir.absolute())  # cases run in other dirs
    asst = assistant if assistant is not None else Assistant(settings, warn=warn)
    if assistant is None and asst.offline_reason():
        # Only the local analyzers can answer: a measurement, not usage. Its events stay in memory so
        # `stats` (fallback rate, answers) is the same after an offline eval as before it.

        asst = Assistant(settings, warn=warn, run_id=asst.run_id, stats=StatsLog(None, asst.run_id))
    reason = asst.offline_reason()
    engine = "local" if reason else (options.model or settings.model_primary)
    docs: dict[str, dict[str, Any]] = {}
    reports: list[Report] = []
    try:
        if options.review_templates:
            for case in (c for c in cases if c.kind == "diff"):
                report = _review(case, settings, options, asst)
                reports.append(report)
                scored = _scored(report.findings, options.findings)
                docs[case.id] = score_diff(case, scored) | {"usage": _case_usage(report)}
        failing = [c for c in cases if c.kind == "failure"]
        if options.explain_template and failing:
            report = _explain(failing, settings, options.explain_template, asst)
            reports.append(report)
            for case, explanation in zip(failing, report.explanations, strict=True):
                docs[case.id] = score_failure(case, explanation)
    finally:
        if assistant is None:
            asst.close()
    meta = {
        "format": FORMAT,
        "suite": options.suite,
        "engine": engine,
        "findings": options.findings,
        "offline_reason": reason,
        "review_templates": list(options.review_templates),
        "explain_template": options.explain_template,
        "tolerance": TOLERANCE,
        "skipped_cases": len(cases) - len(docs),
    }
    return summarize([docs[c.id] for c in cases if c.id in docs], _usage(reports), meta)


def _scored(findings: Sequence[Finding], which: str) -> list[Finding]:
    """The findings `which` names: all of them (merged), or those the model / an analyzer reported
    (a merged finding counts for both sides)."""
    if which == "merged":
        return list(findings)
    kind = "model" if which == "model" else "analyzer"
    return [f for f in findings if any(o.kind == kind for o in f.origins)]


def _case_usage(report: Report) -> dict[str, Any]:
    return {
        "hunks": report.hunks,
        "api_requests": report.api_requests,
        "cache_hits": report.cache_hits,
        "local_answers": report.local_answers,
        "tokens": report.prompt_tokens + report.completion_tokens,
        "cost_usd": round(report.cost_usd, 6),
    }


def _usage(reports: Sequence[Report]) -> dict[str, Any]:
    by_source: dict[str, int] = {}
    for r in reports:
        for f in r.findings:
            by_source[f.source] = by_source.get(f.source, 0) + 1
        for e in r.explanations:
            by_source[e.source] = by_source.get(e.source, 0) + 1
    prompt = sum(r.prompt_tokens for r in reports)
    completion = sum(r.completion_tokens for r in reports)
    return {
        "answers": sum(r.hunks if r.kind == "review" else len(r.explanations) for r in reports),
        "local_answers": sum(r.local_answers for r in reports),
        "api_requests": sum(r.api_requests for r in reports),
        "cache_hits": sum(r.cache_hits for r in reports),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens": prompt + completion,
        "cost_usd": round(sum(r.cost_usd for r in reports), 6),
        "redactions": sum(r.redactions for r in reports),
        "dropped": sum(r.dropped for r in reports),
        "by_source": dict(sorted(by_source.items())),
        "fallback_reasons": sorted({r.fallback_reason for r in reports if r.fallback_reason}),
        "notices": sorted({n for r in reports for n in r.notices}),
    }
