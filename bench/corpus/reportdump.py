"""A pytest plugin for the coverage benchmark: writes every failing report as a `Failure` record (JSON lines).

Loaded with `-p reportdump` (its folder on PYTHONPATH); the output path comes from `REPORTDUMP_PATH`.
The records carry the same fields `symphony_assist_hooks.findings.Failure` has, taken from the real reports,
so the benchmark classifies pytest's own text rather than hand-written imitations.
"""

from __future__ import annotations

import inspect
import json
import linecache
import os
from collections.abc import Generator
from typing import Any

import pytest

_OUT = os.environ.get("REPORTDUMP_PATH", "reports.jsonl")


def _source(func: Any) -> str:
    """The test function's source. inspect.getsource() scans sys.modules on every call (~0.1 s each here)."""
    code = getattr(func, "__code__", None)
    if code is None:
        return ""
    lines = linecache.getlines(code.co_filename)[code.co_firstlineno - 1 :]
    return "".join(inspect.getblock(lines)) if lines else ""


def _write(record: dict[str, Any]) -> None:
    with open(_OUT, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    source = _source(getattr(item, "obj", None))
    path, line, _ = item.location
    _write(
        {
            "test_id": report.nodeid,
            "when": report.when,
            "longrepr": report.longreprtext,
            "path": path,
            "line": (line or 0) + 1,
            "exc_type": call.excinfo.typename if call.excinfo else "",
            "test_source": source,
            "code_under_test": "",
        }
    )


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write(
            {
                "test_id": report.nodeid,
                "when": "collect",
                "longrepr": report.longreprtext,
                "path": report.fspath if hasattr(report, "fspath") else report.nodeid,
                "line": 0,
                "exc_type": "",
                "test_source": "",
                "code_under_test": "",
            }
        )
