"""The `testing` analyzer: classifies a failing test from pytest's own failure text and says how to fix it.

Categories: assertion-mismatch, float-comparison, mock-call-mismatch, did-not-raise, flaky, import-error,
fixture-not-found, setup-error, teardown-error, collection-error, timeout, attribute-error-on-none,
type-error-on-none, attribute-error, key-error, index-error, zero-division, recursion, file-not-found,
permission-error, network-error, type-error, value-error, and `exception` for anything else (still naming
the exception, the innermost project frame and the message). Stdlib only; never imports the project.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from ..findings import Explanation, Failure
from .assertions import explain_assertion
from .blamed import blame_code
from .context import Context, Verdict, quote
from .diagnose import explain_exception, fallback
from .imports import FIXTURE_SYNONYMS, PLUGIN_FIXTURES, import_error
from .longrepr import parse

__all__ = ["CATEGORIES", "TestingAnalyzer"]

CATEGORIES = (
    "assertion-mismatch",
    "float-comparison",
    "mock-call-mismatch",
    "did-not-raise",
    "flaky",
    "import-error",
    "fixture-not-found",
    "setup-error",
    "teardown-error",
    "collection-error",
    "timeout",
    "attribute-error-on-none",
    "type-error-on-none",
    "attribute-error",
    "key-error",
    "index-error",
    "zero-division",
    "recursion",
    "file-not-found",
    "permission-error",
    "network-error",
    "type-error",
    "value-error",
    "exception",
)

_FIXTURE = re.compile(r"fixture '(?P<name>[^']+)' not found")
_AVAILABLE = re.compile(r"available fixtures: (?P<names>[^\n]+)")
_TIMEOUT = re.compile(r"Timeout >?\s*(?P<secs>[\d.]+)\s*s|\+{3,} Timeout \+{3,}|Failed: Timeout")
_SYNTAX = {"SyntaxError", "IndentationError", "TabError"}
# the evidence is about the test or its environment, not the code it calls
_TEST_SIDE = {
    "fixture-not-found",
    "import-error",
    "collection-error",
    "timeout",
    "flaky",
    "setup-error",
    "teardown-error",
}


class TestingAnalyzer:
    """Explains one failing test offline. `root` is where the project's files are (default: the cwd)."""

    __test__ = False  # not a pytest test class, despite the name
    name = "testing"

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None

    def explain(self, failure: Failure) -> Explanation:
        ctx = Context(failure, parse(failure.longrepr), self._root or Path.cwd())
        try:
            verdict = _classify(ctx)
        except Exception as exc:  # a parser bug must still leave the user with the facts
            verdict = fallback(ctx)
            verdict = verdict._replace(fix=f"{verdict.fix} (local analysis incomplete: {type(exc).__name__})")
        if failure.suspects and verdict.category not in _TEST_SIDE:
            verdict = blame_code(ctx, verdict, failure.suspects)
        frame = ctx.inner
        path, line = failure.path, failure.line
        if verdict.path:
            path, line = verdict.path, verdict.line
        elif frame is not None and frame.project:
            path, line = ctx.rel(frame.path), frame.line
        return Explanation(
            test_id=failure.test_id,
            category=verdict.category,
            explanation=verdict.explanation,
            fix=verdict.fix,
            source="local",
            path=path,
            line=line,
        )


def _classify(ctx: Context) -> Verdict:
    text = ctx.failure.longrepr
    if m := _FIXTURE.search(text):
        return _fixture_not_found(ctx, m.group("name"))
    if ctx.failure.when == "collect" or text.startswith("ImportError while importing test module"):
        return _collection(ctx)
    if (
        _TIMEOUT.search(ctx.message)
        or (ctx.short == "Failed" and "Timeout" in ctx.message)
        or re.search(r"\+{3,} Timeout \+{3,}", text)
    ):
        return _timeout(ctx)
    if ctx.failure.when in {"setup", "teardown"}:
        return _fixture_error(ctx)
    if (
        ctx.short == "AssertionError"
        or any(e.lstrip().startswith("assert ") for e in ctx.parsed.errors[:2])
        or "DID NOT RAISE" in ctx.message
    ):
        return explain_assertion(ctx)
    return explain_exception(ctx) or fallback(ctx)


def _fixture_not_found(ctx: Context, name: str) -> Verdict:
    available_m = _AVAILABLE.search(ctx.failure.longrepr)
    available = [n.strip() for n in available_m.group("names").split(",")] if available_m else []
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
    synonym = FIXTURE_SYNONYMS.get(name)
    if synonym and synonym in available and synonym not in close:
        close.insert(0, synonym)
    plugin = PLUGIN_FIXTURES.get(name)
    explanation = f"`{ctx.test}` asks for a fixture `{name}` that no conftest.py or installed plugin provides."
    if close:
        explanation += f" Close matches that do exist: {', '.join(f'`{c}`' for c in close)}."
    if plugin:
        fix = (
            f"`{name}` comes from the {plugin} plugin: `pip install {plugin.split(' ')[0]}` and add it to the "
            "test dependencies."
        )
    elif close:
        fix = (
            f"Rename the parameter to `{close[0]}` if that is the fixture you meant; otherwise define "
            f"`@pytest.fixture def {name}(): ...` in the nearest conftest.py."
        )
    else:
        fix = (
            f"Define `@pytest.fixture def {name}(): ...` in a conftest.py next to the test (or the plugin that "
            "provides it); `pytest --fixtures` lists what exists."
        )
    return Verdict("fixture-not-found", explanation, fix)


def _collection(ctx: Context) -> Verdict:
    errors = "\n".join(ctx.parsed.errors)
    if ctx.short in {"ImportError", "ModuleNotFoundError"} or "ImportError while importing" in ctx.failure.longrepr:
        verdict = import_error(ctx)
        if verdict is not None:
            return verdict
    if ctx.short in _SYNTAX or re.search(r"^(SyntaxError|IndentationError|TabError)\b", errors, re.M):
        m = re.search(r'File "(?P<path>[^"]+)", line (?P<line>\d+)', errors)
        location = f"{ctx.rel(m.group('path'))}:{m.group('line')}" if m else ctx.failure.path
        code = next(
            (
                e.strip()
                for e in ctx.parsed.errors
                if e.strip()
                and not e.strip().startswith(("File ", "^"))
                and not re.match(r"^(SyntaxError|IndentationError|TabError)", e.strip())
            ),
            "",
        )
        shown = f" ({quote(code)})" if code else ""
        return Verdict(
            "collection-error",
            f"pytest could not collect {ctx.failure.test_id}: {ctx.short or 'SyntaxError'} at {location}{shown}: "
            f"{ctx.message}. No test in the file ran.",
            f"Fix the syntax at {location} ({ctx.message}); `python -m py_compile {location.split(':')[0]}` "
            "checks it without running the tests.",
            location.rsplit(":", 1)[0] if m else "",
            int(m.group("line")) if m else 0,
        )
    if ctx.short.endswith("Warning"):  # a warning filter set to "error" (click: filterwarnings = error)
        said = " ".join(e.strip() for e in ctx.parsed.errors[1:] if e.strip())
        detail = f"{ctx.message} {said}".strip()
        return Verdict(
            "collection-error",
            f"pytest could not collect {ctx.failure.test_id}: a warning was raised as an error, {ctx.exc}: "
            f"{detail}. A warning filter set to `error` (`filterwarnings` in the pytest configuration, or "
            "`-W error`) makes it one. No test in the file ran.",
            f"Do what the warning asks in {ctx.failure.path}; until then, `ignore::{ctx.exc}` in `filterwarnings` "
            "lets the file be collected.",
        )
    frame = ctx.inner
    return Verdict(
        "collection-error",
        f"pytest could not collect {ctx.failure.test_id}: importing it raised {ctx.exc or 'an error'}: {ctx.message} "
        f"at {ctx.at(frame)}{ctx.line_of(frame)}. No test in the file ran.",
        "Module-level code in a test file runs at collection: move the work that failed into a fixture or the "
        "test itself, and fix the error it raised.",
    )


def _timeout(ctx: Context) -> Verdict:
    m = _TIMEOUT.search(ctx.message) or _TIMEOUT.search(ctx.failure.longrepr)
    limit = f" of {m.group('secs')}s" if m and m.groupdict().get("secs") else ""
    frames = [f for f in ctx.parsed.frames if f.path and "pytest_timeout" not in f.path]
    handler = ctx.parsed.frames[-1] if ctx.parsed.frames else None
    stuck = [f for f in frames if f is not handler]
    blocked = stuck[-1] if stuck else None
    project = [f for f in stuck if f.project]
    inside = project[-1] if project else blocked
    where = f" while in {ctx.at(inside)}{ctx.line_of(inside)}" if inside else ""
    lib = f", blocked in {ctx.at(blocked)}{ctx.line_of(blocked)}" if blocked and blocked is not inside else ""
    return Verdict(
        "timeout",
        f"`{ctx.test}` ran past its time limit{limit} and was stopped{where}{lib}: it waits for something that "
        "never happens (a loop whose condition never changes, a blocking get/read/lock, a service that does "
        "not answer).",
        "Make the wait end: set the event/put the item the code waits for in the test, use timeouts on blocking "
        "calls (queue.get(timeout=...)), and fake slow services instead of waiting for them.",
        ctx.rel(inside.path) if inside and inside.project else "",
        inside.line if inside and inside.project else 0,
    )


def _fixture_error(ctx: Context) -> Verdict:
    phase = "setup" if ctx.failure.when == "setup" else "teardown"
    frames = [f for f in ctx.parsed.frames if f.project]
    fixture_frame = frames[0] if frames else ctx.inner
    fixture = ""
    if fixture_frame is not None:
        fixture = fixture_frame.func or next(
            (m.group(1) for s in fixture_frame.source if (m := re.match(r"\s*(?:async\s+)?def\s+(\w+)", s))), ""
        )
    if fixture == ctx.test.rsplit(".", 1)[-1].split("[")[0]:  # pytest shows the test's `def` for its request
        fixture = ""
    cause = explain_exception(ctx)
    exc = f"{ctx.exc}: {ctx.message}" if ctx.exc else ctx.message
    name = f"fixture `{fixture}`" if fixture else "a fixture"
    explanation = (
        f"The test body of `{ctx.test}` never ran: {name} failed during {phase} with {exc} at "
        f"{ctx.at(ctx.inner)}{ctx.line_of(ctx.inner)}."
    )
    if phase == "teardown":
        explanation = (
            f"`{ctx.test}` itself passed, but {name} failed in its teardown (the code after `yield`) with "
            f"{exc} at {ctx.at(ctx.inner)}{ctx.line_of(ctx.inner)}."
        )
    fix = (
        cause.fix
        if cause
        else (
            f"Fix {name}: it raises {ctx.short} on purpose when its precondition is not met — make the environment "
            "satisfy it, or have the fixture skip (`pytest.skip(...)`) when it cannot."
            if ctx.inner and ctx.inner.failing.startswith("raise")
            else f"Fix {name} so its {phase} succeeds."
        )
    )
    if phase == "teardown" and not cause:
        fix = (
            f"Make {name}'s cleanup robust (the test's leftovers are what it complains about), or fix the test "
            "that leaves them behind."
        )
    return Verdict(f"{phase}-error", explanation, fix)
