"""The hardening matrix (issue #10): four categories of docs/reference.md cases, counted at the end of a run.

A test joins the matrix by carrying one of the markers below, wherever it lives (`pytestmark` lines mark
whole modules of the older suites). At the end of the run a `hardening matrix` section counts, per
category, the cases tried and how they ended. A case is one test report with `when == "call"`, or a
setup report that failed or skipped (a case that never reached its call was still tried).

This module is a plugin, not only a conftest: `tests/conftest.py` loads it (`pytest_plugins`) so that

* the markers are registered before any test module is imported (`--strict-markers` checks a marker
  when the module is imported, and tests/annotators, tests/assistant are collected before
  tests/hardening); and
* under pytest-xdist the summary runs on the controller, which never collects and so never loads
  tests/hardening/conftest.py; the reports it receives from the workers carry their `keywords`.

tests/hardening/conftest.py registers the same markers and prints the same section only when this
plugin is not loaded (a run without tests/conftest.py's line), so the section appears exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

CATEGORIES: Mapping[str, str] = {
    "hardening_faults": "service faults: HTTP errors, quota, rate limits, timeouts, broken answers (docs/reference.md#provider-faults)",
    "hardening_local_state": "cache, ledger, disk, clock and process faults on this machine (docs/reference.md#local-state)",
    "hardening_hostile_input": "hostile diffs and prompts: fuzzed parsers, prompt injection (docs/reference.md#secrets, docs/reference.md#prompt-injection, docs/reference.md#git-inputs)",
    "hardening_hostile_output": "hostile model output in every sink: terminal, CI log, SARIF, markdown (docs/reference.md#output-escaping)",
}
SECTION = "hardening matrix"
PLUGIN_NAME = "hardening.matrix"


def register_markers(config: pytest.Config) -> None:
    """Add the four markers to `config` unless they are there already (idempotent)."""
    known = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, doc in CATEGORIES.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {doc}")


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    xfailed: int = 0  # a subset of skipped: known, named limitations (xfail strict)

    @property
    def tried(self) -> int:
        return self.passed + self.failed + self.skipped


def _counted(report: Any) -> bool:
    when = getattr(report, "when", None)
    if when == "call":
        return True
    return when == "setup" and (report.failed or report.skipped)


def tally(reports: Iterable[Any]) -> dict[str, Tally]:
    """Per category, the outcome of every counted report that carries the category's marker."""
    out = {name: Tally() for name in CATEGORIES}
    seen: set[tuple[str, str]] = set()
    for report in reports:
        if not _counted(report):
            continue
        keywords = getattr(report, "keywords", None) or {}
        key = (str(getattr(report, "nodeid", "")), str(report.when))
        if key in seen:  # a report may be filed under two stats keys (e.g. "error" and "failed")
            continue
        seen.add(key)
        for name, t in out.items():
            if name not in keywords:
                continue
            if report.passed:
                t.passed += 1
            elif report.failed:
                t.failed += 1
            else:
                t.skipped += 1
                if hasattr(report, "wasxfail"):
                    t.xfailed += 1
    return out


def write_summary(terminalreporter: Any) -> None:
    """The `hardening matrix` section: one line per category, then the total."""
    reports = [r for values in terminalreporter.stats.values() for r in values]
    counts = tally(reports)
    if not any(t.tried for t in counts.values()):
        return  # a run that selected no hardening case (e.g. one test file) stays quiet
    terminalreporter.section(SECTION)
    width = max(map(len, CATEGORIES))
    total = Tally()
    for name, t in counts.items():
        total.passed += t.passed
        total.failed += t.failed
        total.skipped += t.skipped
        total.xfailed += t.xfailed
        terminalreporter.write_line(_line(name.ljust(width), t), red=bool(t.failed), green=not t.failed)
    terminalreporter.write_line(_line("total".ljust(width), total), bold=True)


def _line(label: str, t: Tally) -> str:
    xfail = f" ({t.xfailed} xfail: open limitations)" if t.xfailed else ""
    return f"{label}  {t.tried:>4} tried  {t.passed:>4} passed  {t.failed:>3} failed  {t.skipped:>3} skipped{xfail}"


def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write_summary(terminalreporter)
