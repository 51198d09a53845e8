"""`symphony-assist baseline`: record today's findings so later reviews show only new ones.

Writes the fingerprints (path, rule, normalised line — not line numbers, so edits elsewhere keep them
valid) to `.symphony-assist/baseline.json`, which `review` reads by default. Commit the file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...config import Settings
from ...errors import EXIT_OK
from ...git import changes as git
from ...review.baseline import write_baseline
from ...review.pipeline import ReviewOptions, review_changes
from ...terminal.console import Console


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    opts = ReviewOptions(source="rev" if args.rev else "all-files", rev=args.rev, templates=settings.templates)
    report = review_changes(settings, opts, warn=console.notice)
    if report.fallback_reason:
        console.notice(f"{report.fallback_reason} — the baseline holds the local analyzers' findings")
    out = Path(args.output)
    if not out.is_absolute():
        out = git.repo_root() / out
    count = write_baseline(report.findings, out)
    console.print(f"baseline: {count} findings recorded in {out}")
    return EXIT_OK
