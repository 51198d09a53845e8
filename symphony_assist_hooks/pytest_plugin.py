"""`pytest --assist`: explain failing tests in a `symphony-assist` section of the terminal summary.

The pytest11 entry point `symphony_assist` names this module, so pytest imports it on every run where the
package is installed. It therefore imports only the standard library and pytest, and pytest rewrites
(and, under PYTHONDONTWRITEBYTECODE, re-parses) every module of ours a session imports: the rest of the
package is imported only when there is a failure to explain (PERFORMANCE.md §4, §9). `AssistPlugin` is
registered only when --assist (or the ini key `assist`) is on; `-p no:symphony_assist` removes it all.

Flow (pytest-xdist aware, CONVENTIONS.md §2.4):
- `pytest_runtest_makereport` (in the process that ran the test: a worker under xdist) captures the
  failure's context as a JSON-serialisable dict on the report (`report.symphony_assist`): a traceback in
  pytest's short style (the same whatever --tb says, so cache keys do not depend on it), the test
  function's source and the code under test (the function of the innermost traceback frame inside
  the rootdir but outside the test file);
- `pytest_runtest_logreport` / `pytest_collectreport` on the controller collect failures (reports come
  there from the workers); skips and xfails are not failures;
- `pytest_sessionfinish` on the controller asks the assistant once for all of them and writes
  --assist-report; `pytest_terminal_summary` prints the section. Workers run both hooks too and do
  nothing there.

The assistant never changes an outcome or the exit status: every fault becomes one line in the section.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .explain import Explained
    from .findings import Failure

__all__ = ["REPORT_ATTR", "AssistPlugin", "pytest_addoption", "pytest_configure"]

PLUGIN_NAME = "symphony-assist-session"
REPORT_ATTR = "symphony_assist"  # the context dict a report carries from the worker to the controller
_FIELD_CHARS = 20_000  # per captured field: enough for any trimming later, small on the wire
_STATE = pytest.StashKey["AssistPlugin"]()
_INTERNAL_DIRS = tuple(
    str(Path(mod.__file__).parent) + os.sep
    for mod in (pytest, sys.modules.get("_pytest"), sys.modules.get("pluggy"))
    if mod is not None and mod.__file__
)


# ------------------------------------------------------------------------------------------ options
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in USD such as 0.25, got {text!r}") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"expected a non-negative amount in USD, got {text!r}")
    return value


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
        help="explain at most N failures, list the rest (default: 5; ini: assist_max_failures)",
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


# ------------------------------------------------------------------------------------------ capture
def _rel(path: str | os.PathLike[str], root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return os.fspath(path)


def _source_of(obj: Any) -> str:
    try:
        return inspect.getsource(inspect.unwrap(obj))[:_FIELD_CHARS]
    except (OSError, TypeError, ValueError):
        return ""


def _is_project_file(path: Path, root: Path) -> bool:
    text = str(path)
    if text.startswith(_INTERNAL_DIRS) or "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    if text.startswith(sys.prefix + os.sep) or text.startswith(sys.base_prefix + os.sep):
        return False
    return path.is_relative_to(root)


def _code_under_test(entries: list[Any], test_path: Path, test_code: Any, root: Path) -> str:
    """The code a failure is about, as `# path:line (name)` and its source.

    The function of the innermost traceback frame inside the rootdir but outside the test file; when the
    failure was raised in the test file itself (a failing assertion), the project functions called in the
    failing statement; else the innermost project frame that is not the test (a helper or a fixture).
    """
    project = [e for e in reversed(entries) if isinstance(e.path, Path) and _is_project_file(e.path, root)]
    outside = next((e for e in project if e.path != test_path), None)
    if outside is not None:
        return _frame_source(outside, root)
    if project:
        called = _called_functions(project[0], test_path, root)
        if called:
            return called
    helper = next((e for e in project if e.frame.code.raw is not test_code), None)
    return _frame_source(helper, root) if helper is not None else ""


def _frame_source(entry: Any, root: Path) -> str:
    code = entry.frame.code
    if code.name == "<module>":  # module-level code: the lines around the failing one
        lines = Path(entry.path).read_text(encoding="utf-8", errors="replace").splitlines()
        first = max(entry.lineno - 10, 0)
        body = "\n".join(lines[first : entry.lineno + 5])
    else:
        body, first = _source_of(code.raw), code.firstlineno
    return f"# {_rel(entry.path, root)}:{first + 1} ({code.name})\n{body}"[:_FIELD_CHARS] if body else ""


def _called_functions(entry: Any, test_path: Path, root: Path, limit: int = 3) -> str:
    """Sources of the project functions called in `entry`'s failing statement (outside the test file).

    Names are resolved statically (`inspect.getattr_static`): no property or `__getattr__` runs.
    """
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(str(entry.statement)).strip())
    except (SyntaxError, ValueError):
        return ""
    scope = {**entry.frame.f_globals, **entry.frame.f_locals}
    found: list[str] = []
    seen: set[Any] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _resolve(node.func, scope)
        code = getattr(func, "__code__", None)
        if code is None or code in seen:
            continue
        seen.add(code)
        path = Path(code.co_filename)
        if path.is_absolute() and path != test_path and _is_project_file(path, root):
            body = _source_of(func)
            if body:
                found.append(f"# {_rel(path, root)}:{code.co_firstlineno} ({code.co_name})\n{body}")
        if len(found) >= limit:
            break
    return "\n\n".join(found)[:_FIELD_CHARS]


def _resolve(node: Any, scope: dict[str, Any]) -> Any:
    import ast

    if isinstance(node, ast.Name):
        value = scope.get(node.id)
    elif isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        if base is None:
            return None
        owner = base if inspect.ismodule(base) or inspect.isclass(base) else type(base)
        try:
            value = inspect.getattr_static(owner, node.attr)
        except AttributeError:
            return None
    else:
        return None
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    elif inspect.isclass(value):
        value = inspect.getattr_static(value, "__init__", None)
    return inspect.unwrap(value) if callable(value) else value


def _exc_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def capture_failure(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> dict[str, Any]:
    """The context of a failed setup, call or teardown, as JSON-serialisable data."""
    root = item.config.rootpath
    excinfo = call.excinfo
    data: dict[str, Any] = {
        "test_id": report.nodeid,
        "when": report.when,
        "path": _rel(item.path, root),
        "line": (report.location[1] or 0) + 1,
        "longrepr": report.longreprtext[-_FIELD_CHARS:],
        "exc_type": "",
        "test_source": "",
        "code_under_test": "",
    }
    if excinfo is None:
        return data
    data["exc_type"] = _exc_name(excinfo.value)
    test_obj = getattr(item, "obj", None) if isinstance(item, pytest.Function) else None
    test_code = getattr(inspect.unwrap(test_obj), "__code__", None) if test_obj is not None else None
    entries = list(excinfo.traceback.filter(excinfo))
    try:
        own = [e for e in entries if not (isinstance(e.path, Path) and str(e.path).startswith(_INTERNAL_DIRS))]
        fresh = pytest.ExceptionInfo.from_exception(excinfo.value)
        fresh.traceback = excinfo.traceback.__class__(own or entries)
        text = str(
            fresh.getrepr(style="short", funcargs=False, showlocals=False, abspath=True, tbfilter=False, chain=True)
        )
        data["longrepr"] = text[-_FIELD_CHARS:]
    except Exception as exc:  # keep pytest's own rendering
        data["repr_error"] = type(exc).__name__
    in_test = [e for e in entries if e.path == item.path]
    if in_test:
        data["line"] = in_test[-1].lineno + 1
    if test_obj is not None:
        data["test_source"] = _source_of(test_obj)
    try:
        data["code_under_test"] = _code_under_test(entries, item.path, test_code, root)
    except Exception as exc:  # the failure is still explained, with less context
        data["capture_error"] = type(exc).__name__
    return data


def _collect_failure(report: pytest.CollectReport) -> dict[str, Any]:
    return {
        "test_id": report.nodeid or report.fspath,
        "when": "collect",
        "path": report.fspath,
        "line": 0,
        "longrepr": report.longreprtext[-_FIELD_CHARS:],
        "exc_type": "",
        "test_source": "",
        "code_under_test": "",
    }


# ------------------------------------------------------------------------------------------ plugin
class AssistPlugin:
    """Per-session state and hooks; registered only when --assist is on."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.failures: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str]] = set()
        self.result: Explained | None = None
        self.lines: list[str] = []  # notices for the summary: fallback reasons, faults
        self.interrupted = False  # Ctrl-C: the user wants out, not a round trip to the API

    # --- capture (runs where the test runs) -------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed and call.excinfo is not None:
            try:
                setattr(report, REPORT_ATTR, capture_failure(item, call, report))
            except Exception as exc:  # never break the test run over context
                setattr(
                    report,
                    REPORT_ATTR,
                    {
                        "test_id": report.nodeid,
                        "when": report.when,
                        "longrepr": report.longreprtext[-_FIELD_CHARS:],
                        "capture_error": type(exc).__name__,
                    },
                )
        return report

    # --- collect (the controller sees every report) -----------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker or not report.failed:
            return
        data = getattr(report, REPORT_ATTR, None)
        if isinstance(data, dict):
            self._add(data)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not self.is_worker and report.failed:
            self._add(_collect_failure(report))

    def _add(self, data: dict[str, Any]) -> None:
        key = (str(data.get("test_id", "")), str(data.get("when", "")))
        if key not in self._seen:
            self._seen.add(key)
            self.failures.append(data)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Collection errors also end a session as "interrupted" (Session.Interrupted): explain those.
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
            self.result = self._explain()
            self._write_report()
        except Exception as exc:  # like pastebin: a fault is one line, never a broken session
            self.lines.append(f"not available: {type(exc).__name__}: {exc}")

    def _option(self, name: str) -> Any:
        value = self.config.getoption(name, None)
        if value is not None:
            return value
        return self.config.getini(name)

    def _explain(self) -> Explained:
        from .config import load_settings
        from .explain import explain_failures

        root = self.config.rootpath
        max_failures = self._option("assist_max_failures")
        if isinstance(max_failures, str):
            max_failures = _positive_int(max_failures.strip() or "5")
        cli: dict[str, Any] = {}
        cost = self.config.getoption("assist_max_cost", None)
        ini_cost = str(self.config.getini("assist_max_cost")).strip()
        if cost is None and ini_cost and "SYMPHONY_ASSIST_BUDGET_RUN" not in os.environ:
            cost = _usd(ini_cost)  # the ini file ranks with [tool.symphony-assist]: below the environment
        if cost is not None:
            cli["budget_run"] = cost
        settings = load_settings(cli, cwd=root)
        return explain_failures(
            [_failure(d) for d in self.failures],
            settings,
            template=str(self._option("assist_template") or "testing"),
            max_failures=int(max_failures),
            root=str(root),
            volatile=[str(Path(basetemp).resolve())] if (basetemp := self.config.getoption("basetemp", None)) else [],
            warn=self.lines.append,
        )

    def _render_context(self) -> Any:
        from .annotators import RenderContext

        return RenderContext.from_env(root=self.config.rootpath, category="symphony-assist/pytest/")

    def _write_report(self) -> None:
        """--assist-report: the json annotator's document plus the ids left unexplained."""
        target = str(self._option("assist_report") or "")
        if not target or self.result is None:
            return
        import json

        from .annotators.jsonfmt import to_document

        doc = to_document(self.result.report, self._render_context())
        doc["not_explained"] = list(self.result.not_explained)
        path = Path(target)
        if not path.is_absolute():
            path = self.config.invocation_params.dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def _emit_formats(self) -> None:
        """--assist-format: run in the terminal summary, where stdout is no longer captured."""
        formats = list(self._option("assist_format") or [])
        if not formats or self.result is None:
            return
        from .annotators import emit, parse_format_args
        from .console import Console

        emit(self.result.report, parse_format_args(formats), self._render_context(), Console(color="never"))

    # --- print ------------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker or (not self.failures and not self.lines):
            return
        tr = terminalreporter
        try:
            self._print(tr)
            self._emit_formats()
        except Exception as exc:
            tr.write_line(f"symphony-assist: not available: {type(exc).__name__}: {exc}", yellow=True)

    def _print(self, tr: pytest.TerminalReporter) -> None:
        from .console import sanitize

        def one(text: str) -> str:
            return sanitize(text, keep_newlines=False)

        tr.write_sep("=", "symphony-assist", bold=True)
        result = self.result
        if result is not None:
            report = result.report
            for e in report.explanations:
                where = {"api": "from the API", "cache": "from the cache"}.get(e.source, "local fallback")
                tr.write_line(f"{one(e.test_id)} [{one(e.category)}] ({where})", bold=True)
                _block(tr, "why: ", sanitize(e.explanation))
                _block(tr, "fix: ", sanitize(e.fix))
            for reason, count in report.skipped.items():
                tr.write_line(f"{count} {one(reason)}: " + ", ".join(one(t) for t in result.not_explained))
            if report.fallback_reason:
                tr.write_line(f"local fallback: {one(report.fallback_reason)}", yellow=True)
            for notice in report.notices:
                tr.write_line(one(notice), yellow=True)
        for line in self.lines:
            tr.write_line(one(line), yellow=True)
        if result is not None:
            r = result.report
            tr.write_line(
                f"cost ${r.cost_usd:.4f} · {r.api_requests} request(s) · {r.cache_hits} cache hit(s)"
                f" · saved ${r.saved_usd:.4f} · {r.local_answers} local answer(s)"
            )


def _block(tr: pytest.TerminalReporter, label: str, text: str) -> None:
    lines = [ln.rstrip() for ln in text.strip().splitlines()] or ["-"]
    pad = " " * (len(label) + 2)
    tr.write_line("  " + label + lines[0])
    for ln in lines[1:]:
        tr.write_line(pad + ln if ln else "")


def _failure(d: dict[str, Any]) -> Failure:
    from .findings import Failure

    return Failure(
        test_id=str(d.get("test_id", "")),
        when=str(d.get("when", "call")),
        longrepr=str(d.get("longrepr", "")),
        path=str(d.get("path", "")),
        line=int(d.get("line") or 0),
        exc_type=str(d.get("exc_type", "")),
        test_source=str(d.get("test_source", "")),
        code_under_test=str(d.get("code_under_test", "")),
    )
