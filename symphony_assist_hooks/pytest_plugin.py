"""`pytest --assist`: explain failing tests in a `symphony-assist` section of the terminal summary.

PYTEST_DONT_REWRITE (nothing here needs assertion rewriting; skipping it saves a parse per session).

The pytest11 entry point `symphony_assist` names this module, so pytest imports it on every run where the
package is installed: it imports only the standard library and pytest and holds only the options and the
hooks. pytest assertion-rewrites every module of our distribution a session imports (under
PYTHONDONTWRITEBYTECODE it re-parses them on every run), so the work lives in `explain/session.py` and
behind it the core, imported only when a test failed (docs/reference.md#pytest-plugin-overhead).
`AssistPlugin` is registered only when --assist (or the ini key `assist`) is on; `-p no:symphony_assist`
removes everything.

Flow, pytest-xdist aware (docs/reference.md#pytest-plugin-overhead):
- `pytest_runtest_makereport`, in the process that ran the test (a worker under xdist), puts the
  failure's context on the report as JSON-serialisable data (`report.symphony_assist`): a traceback in
  pytest's short style whatever --tb says (so cache keys do not depend on it), the test's source and
  the code under test;
- `pytest_runtest_logreport` / `pytest_collectreport` on the controller collect failures (reports reach
  it from the workers); skips and xfails are not failures;
- `pytest_sessionfinish` on the controller explains them all at once and writes --assist-report;
  `pytest_terminal_summary` prints the section. Workers run both hooks too and do nothing there.

The assistant never changes an outcome or the exit status: every fault becomes one line in the section.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from .amounts import argument, parse_usd, whole_number

if TYPE_CHECKING:
    from .explain.requests import Explained

__all__ = ["PLUGIN_NAME", "REPORT_ATTR", "AssistPlugin", "pytest_addoption", "pytest_configure"]

PLUGIN_NAME = "symphony-assist-session"
REPORT_ATTR = "symphony_assist"  # the context dict a report carries from the worker to the controller
KEY_INPUT = "symphony_assist_key"  # the session's key of secret pieces, from the controller to the workers
_STATE = pytest.StashKey["AssistPlugin"]()


# ------------------------------------------------------------------------------------------ options
_positive_int = argument(whole_number(0))
_usd = argument(parse_usd)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("symphony-assist", "AI explanations of failing tests (symphony-assist)")
    group.addoption(
        "--assist",
        action="store_true",
        default=None,
        help="explain failing tests in the terminal summary (ini: assist)",
    )
    group.addoption(
        "--assist-template",
        dest="assist_template",
        metavar="NAME",
        help="prompt template for the explanations (default: testing; ini: assist_template)",
    )
    group.addoption(
        "--assist-max-failures",
        dest="assist_max_failures",
        metavar="N",
        type=_positive_int,
        help="explain at most N groups of failures, count the rest (default: 5; ini: assist_max_failures)",
    )
    group.addoption(
        "--assist-max-cost",
        dest="assist_max_cost",
        metavar="USD",
        type=_usd,
        help="USD this session may spend (default: the budget_run setting; ini: assist_max_cost)",
    )
    group.addoption(
        "--assist-report",
        dest="assist_report",
        metavar="PATH",
        help="write the explanations as a JSON document (ini: assist_report)",
    )
    group.addoption(
        "--assist-format",
        dest="assist_format",
        action="append",
        metavar="NAME[=PATH]",
        help="also emit the explanations as github, sarif, gitlab, json, … (repeatable; ini: assist_format)",
    )
    parser.addini("assist", type="bool", default=False, help="symphony-assist: explain failing tests")
    parser.addini("assist_template", default="testing", help="symphony-assist: prompt template")
    parser.addini("assist_max_failures", default="5", help="symphony-assist: failures explained at most")
    parser.addini("assist_max_cost", default="", help="symphony-assist: USD this session may spend")
    parser.addini("assist_report", default="", help="symphony-assist: JSON report path")
    parser.addini("assist_format", type="args", default=[], help="symphony-assist: extra output formats")


def pytest_configure(config: pytest.Config) -> None:
    enabled = config.getoption("assist", None) or config.getini("assist")
    if enabled:
        plugin = AssistPlugin(config)
        config.stash[_STATE] = plugin
        config.pluginmanager.register(plugin, PLUGIN_NAME)


# ------------------------------------------------------------------------------------------ plugin
class AssistPlugin:
    """Per-session state and hooks; registered only when --assist is on."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.failures: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str]] = set()
        self.result: Explained | None = None
        self.lines: list[str] = []  # one-line notices for the section: warnings, faults
        self.interrupted = False  # Ctrl-C: the user wants out, not a round trip to the API
        # keys the digests of the pieces of secrets a failure holds (scan/fragments.py): one per session,
        # handed to the xdist workers, so that the controller matches what every worker found
        shared = getattr(config, "workerinput", {}).get(KEY_INPUT) if self.is_worker else None
        try:
            self.key = bytes.fromhex(shared) if isinstance(shared, str) and shared else os.urandom(16)
        except ValueError:
            self.key = os.urandom(16)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:  # pytest-xdist, on the controller
        node.workerinput[KEY_INPUT] = self.key.hex()

    # --- capture (runs where the test runs) -------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed and call.excinfo is not None:  # not xfail/skip; XPASS(strict) has no exception
            try:
                from .explain.session import capture_failure  # deferred: pytest without --assist never loads it

                data = capture_failure(item, call, report, self.key)
            except Exception as exc:  # never break the test run over context
                data = {"test_id": report.nodeid, "when": report.when, "longrepr": report.longreprtext[-20_000:],
                        "capture_error": type(exc).__name__}  # fmt: skip
            setattr(report, REPORT_ATTR, data)
        return report

    # --- collect (the controller sees every report) -----------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTR, None)
        if not self.is_worker and report.failed and isinstance(data, dict):
            self._add(data)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not self.is_worker and report.failed:
            self._add({"test_id": report.nodeid or report.fspath, "when": "collect", "path": report.fspath,
                       "longrepr": report.longreprtext[-20_000:]})  # fmt: skip

    def _add(self, data: dict[str, Any]) -> None:
        key = (str(data.get("test_id", "")), str(data.get("when", "")))
        if key not in self._seen:  # xdist reports a collection error once per worker
            self._seen.add(key)
            self.failures.append(data)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Collection errors end a session as "interrupted" too (Session.Interrupted): those are explained.
        self.interrupted = not isinstance(excinfo.value, pytest.Session.Interrupted)

    # --- explain once, on the controller ----------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        if self.is_worker or not self.failures:
            return
        if self.interrupted:
            self.lines.append("session interrupted: nothing explained")
            return
        try:
            from .explain.session import explain_session, write_report  # deferred: only with --assist

            self.result = explain_session(self.config, self.failures, self.lines.append, self.key)
        except Exception as exc:  # like pastebin: a fault is one line, never a broken session
            self.lines.append(f"not available: {type(exc).__name__}: {exc}")
            return
        try:
            write_report(self.config, self.result)
        except Exception as exc:
            self.lines.append(f"--assist-report not written: {type(exc).__name__}: {exc}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker or (not self.failures and not self.lines):
            return
        try:
            from .explain.session import emit_formats, print_summary  # deferred: only with --assist

            print_summary(terminalreporter, self.result, self.lines)
            if self.result is not None:
                emit_formats(self.config, self.result)
        except Exception as exc:
            from .logsafe import inert_line  # deferred: pytest without --assist imports only this module

            terminalreporter.write_line(
                inert_line(f"symphony-assist: not available: {type(exc).__name__}: {exc}"), yellow=True
            )
