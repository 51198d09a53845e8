"""`symphony-assist review`: review changes and report findings; fail open unless --fail-closed."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from ...annotators import emit, parse_format_args
from ...annotators.base import RenderContext
from ...assistant import Assistant
from ...assistant.prompts import load_registry
from ...config import Settings
from ...errors import EXIT_FINDINGS, EXIT_OK, EXIT_PROVIDER, FallbackReason
from ...findings import Report, Severity
from ...git import changes as git
from ...plugins import annotators
from ...precommit import range_from_env
from ...review import recorder
from ...review.baseline import DEFAULT_BASELINE
from ...review.pipeline import ReviewOptions, review_changes
from ...terminal.console import Console
from ...terminal.progressline import stderr_progress


def options(args: argparse.Namespace, settings: Settings) -> ReviewOptions:
    source, rev = "staged", None
    if getattr(args, "rev", None):
        source, rev = "rev", args.rev
    elif getattr(args, "all_files", False):
        source = "all-files"
    elif getattr(args, "pre_commit", False) and (env_rev := range_from_env()):
        source, rev = "rev", env_rev
    baseline = getattr(args, "baseline", None)
    if baseline is None:
        default = git.repo_root() / DEFAULT_BASELINE
        baseline = str(default) if default.is_file() else None
    return ReviewOptions(
        source=source,
        rev=rev,
        paths=tuple(getattr(args, "paths", ()) or ()),
        templates=settings.templates,
        use_cache=not getattr(args, "no_cache", False),
        baseline=Path(baseline) if baseline else None,
        model=getattr(args, "model", None),
        temperature=getattr(args, "temperature", None),
        max_tokens=getattr(args, "max_tokens", None),
    )


def exit_code(report: Report, fail_on: str, fail_closed: bool) -> int:
    if fail_closed and report.fallback_reason:
        reason = report.fallback_reason
        return reason.exit_code if isinstance(reason, FallbackReason) else EXIT_PROVIDER
    if fail_on == "never":
        return EXIT_OK
    threshold = Severity(fail_on).rank
    return EXIT_FINDINGS if any(f.severity.rank >= threshold for f in report.findings) else EXIT_OK


def default_formats(values: list[str] | None) -> list[tuple[str, Path | None]]:
    """--format values, else text (plus github annotations when running in GitHub Actions)."""

    if values:
        return parse_format_args(values)
    formats: list[tuple[str, Path | None]] = [("text", None)]
    if os.environ.get("GITHUB_ACTIONS") == "true":
        formats.append(("github", None))
    return formats


def hook_settings(settings: Settings) -> Settings:
    """A git hook run (`review --pre-commit`: the pre-commit framework's hooks and `install-hook`'s)
    waits on the service at most `hook_deadline` (default 20 s), not the whole `deadline` (60 s) that
    CI and `query` keep: a slow service must not hold a commit for a minute."""
    if settings.hook_deadline >= settings.deadline:
        return settings
    sources = dict(settings.sources) | {"deadline": f"hook_deadline ({settings.sources.get('hook_deadline')})"}
    return replace(settings, deadline=settings.hook_deadline, sources=sources)


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:

    if getattr(args, "pre_commit", False):
        settings = hook_settings(settings)

    registry = load_registry(settings.project_root)
    for name in settings.templates:
        registry.get(name)  # unknown template → one line, exit 2
    formats = default_formats(args.formats)
    opts = options(args, settings)

    progress = stderr_progress(console, "hunks")  # None unless stderr is a terminal or a CI log (#11)
    recording = recorder.start(settings, opts)  # replay.py: keep this result if it qualifies
    if recording is not None:
        recording.capture(console)  # after the progress line took the real stderr
    warn = progress.wrap(console.notice) if progress is not None else console.notice
    assistant = Assistant(settings, warn=warn, progress=progress)
    try:
        report = review_changes(settings, opts, assistant=assistant)
    finally:
        assistant.close()
        if progress is not None:
            progress.close()  # erase the status line before anything else is printed
    code = exit_code(report, settings.fail_on, args.fail_closed)
    # A passing git hook is shown on every commit (the hooks are `verbose: true` so findings below
    # --fail-on are seen, #18): one line per finding, and no line at all for a steady state.
    compact = bool(getattr(args, "pre_commit", False)) and code == EXIT_OK and not args.formats
    offline = bool(report.fallback_reason and report.fallback_reason.startswith("offline:"))
    if report.fallback_reason and not (compact and offline):
        console.notice(
            f"{report.fallback_reason} — local analyzers answered ({report.local_answers} of {report.hunks} hunks)"
        )
    for notice in report.notices:
        console.notice(notice)

    ctx = replace(RenderContext.from_env(color=console.color_out, root=git.repo_root()), compact=compact)
    written = emit(report, formats, ctx, console, annotators())
    if not report.hunks and not report.findings and not compact:
        console.notice("nothing to review", None)
    if args.fail_closed and report.fallback_reason:
        console.error(f"--fail-closed: {report.fallback_reason}")
    if recording is not None:  # the next identical run prints this without running
        recording.finish(report, assistant, files_written=bool(written), code=code)
    return code


__all__ = ["exit_code", "hook_settings", "options", "run"]
