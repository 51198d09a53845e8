"""The code_review checks linters miss, each a function from a `Target` to findings on its changed lines.

Rule ids are stable (they feed fingerprints and suppressions): conflict-marker, long-line, debug-leftover,
todo-no-owner, commented-out-code, swallowed-exception, long-function, mutable-default.
The comment checks (commented-out-code, todo-no-owner) live in `comments.py` and the debugging leftovers
(debug-leftover) in `leftovers.py`; `code_review.py` calls each where it lives.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ..findings import Finding, Severity
from .common import Target, enclosing_functions, make_finding

__all__ = [
    "LONG_FUNCTION",
    "LONG_LINE",
    "conflict_markers",
    "long_lines",
    "python_checks",
    "swallowed_catch_js",
]

NAME = "code_review"
LONG_LINE = 200
LONG_FUNCTION = 80

# -- every file ---------------------------------------------------------------------------------------------
_START, _BASE, _MID, _END = (
    re.compile(p) for p in (r"^<{7}(?:\s|$)", r"^\|{7}(?:\s|$)", r"^={7}\s*$", r"^>{7}(?:\s|$)")
)


def conflict_markers(target: Target) -> Iterator[Finding]:
    """One finding per merge-conflict block (and per stray end marker): the file cannot be what was meant."""
    start: int | None = None
    for number, text in enumerate(target.lines, 1):
        if _START.match(text):
            start = number
        elif _END.match(text) or (start is None and _BASE.match(text)):
            first = start or number
            finding = make_finding(
                target,
                first,
                end_line=number,
                rule="conflict-marker",
                title="unresolved merge conflict",
                severity=Severity.HIGH,
                template=NAME,
                message=f"Merge-conflict markers at {target.path}:{first}-{number}: both sides of the conflict "
                "are still in the file.",
                suggestion="Resolve the conflict: keep the right side, delete the <<<<<<<, ======= and >>>>>>> lines.",
            )
            if finding:
                yield finding
            start = None


_NO_LONG_LINE_CHECK = re.compile(r"(\.min\.(js|css)|\.map|\.lock|\.svg|\.csv|\.tsv|-lock\.json|\.ipynb)$")
_URL = re.compile(r"\w+://\S+")
_PROSE = {"markdown", "rst", "text", "json"}


def long_lines(target: Target) -> Iterator[Finding]:
    """Lines over 200 characters in hand-written files (not minified, generated, data or prose)."""
    if target.language in _PROSE or _NO_LONG_LINE_CHECK.search(target.path):
        return
    if target.lines and sum(map(len, target.lines)) / len(target.lines) > LONG_LINE:
        return  # looks minified or generated
    for number in sorted(target.changed_lines):
        text = target.line(number)
        if len(text) <= LONG_LINE or len(_URL.sub("", text)) <= LONG_LINE or " " not in text.strip():
            continue
        finding = make_finding(
            target,
            number,
            rule="long-line",
            title=f"line of {len(text)} characters",
            severity=Severity.INFO,
            template=NAME,
            message=f"{target.path}:{number} is {len(text)} characters long (limit {LONG_LINE}).",
            suggestion="Split the expression or extract a variable so the line can be read without scrolling.",
        )
        if finding:
            yield finding


# -- Python structure ---------------------------------------------------------------------------------------
_BROAD = {"Exception", "BaseException"}


def _broad(handler: ast.ExceptHandler) -> str | None:
    kind = handler.type
    if kind is None:
        return "except:"
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind]
    for n in names:
        if isinstance(n, ast.Name) and n.id in _BROAD:
            return f"except {n.id}"
    return None


def _empty(body: list[ast.stmt]) -> bool:
    return all(
        isinstance(s, ast.Pass | ast.Continue)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value in (Ellipsis,))
        for s in body
    )


def python_checks(target: Target, tree: ast.Module, *, mutable_defaults: bool) -> Iterator[Finding]:
    """Swallowed broad exceptions, long added functions and (without ruff) mutable default arguments."""
    owners = enclosing_functions(tree)
    reported_functions: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and (clause := _broad(node)) and _empty(node.body):
            where = owners.get(node.lineno)
            if where and where.rsplit(".", 1)[-1] == "__del__":
                continue  # an error raised in __del__ is only ever printed: ignoring it is the idiom (click)
            inside = f" in `{where}`" if where else ""
            finding = make_finding(
                target,
                node.lineno,
                end_line=node.end_lineno,
                rule="swallowed-exception",
                title="exception silently swallowed",
                severity=Severity.MEDIUM,
                template=NAME,
                message=f"`{clause}` followed only by `pass`{inside} hides every error raised in the `try` block, "
                "including bugs.",
                suggestion="Catch the specific exception you expect, and log or re-raise the rest "
                "(contextlib.suppress(SpecificError) if ignoring it is really intended).",
            )
            if finding:
                yield finding
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            added = sum(1 for n in range(start, end + 1) if n in target.changed_lines)
            nested = any(s <= start and end <= e for s, e in reported_functions)
            if added > LONG_FUNCTION and not nested:
                reported_functions.append((start, end))
                finding = make_finding(
                    target,
                    node.lineno,
                    end_line=end,
                    rule="long-function",
                    title=f"long function `{node.name}`",
                    severity=Severity.LOW,
                    template=NAME,
                    message=f"`{node.name}` ({target.path}:{node.lineno}-{end}) gains {added} lines in this change "
                    f"(over {LONG_FUNCTION}): hard to review and to test.",
                    suggestion=f"Split `{node.name}` into smaller functions with names that say what each step does.",
                )
                if finding:
                    yield finding
            if mutable_defaults:
                yield from _mutable_defaults(target, node)


def _mutable_defaults(target: Target, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
    args = node.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    for arg, default in pairs:
        mutable = isinstance(default, ast.List | ast.Dict | ast.Set) or (
            isinstance(default, ast.Call)
            and isinstance(default.func, ast.Name)
            and default.func.id in {"list", "dict", "set", "defaultdict"}
        )
        if not mutable:
            continue
        finding = make_finding(
            target,
            default.lineno,
            rule="mutable-default",
            title=f"mutable default for `{arg.arg}`",
            severity=Severity.MEDIUM,
            template=NAME,
            message=f"`{node.name}({arg.arg}={ast.unparse(default)})`: the default is created once and shared "
            "by every call, so changes leak between calls.",
            suggestion=f"Use `{arg.arg}=None` and create the value inside `{node.name}`.",
        )
        if finding:
            yield finding


_JS_EMPTY_CATCH = re.compile(r"\bcatch\s*(\([^)]*\))?\s*\{\s*(//[^\n]*)?\}?\s*$")


def swallowed_catch_js(target: Target) -> Iterator[Finding]:
    """`catch (e) {}` in JavaScript/TypeScript."""
    if target.language not in {"javascript", "typescript"}:
        return
    for number in sorted(target.changed_lines):
        text = target.line(number)
        m = _JS_EMPTY_CATCH.search(text)
        if not m:
            continue
        if not text.rstrip().endswith("}") and target.line(number + 1).strip() != "}":
            continue
        finding = make_finding(
            target,
            number,
            rule="swallowed-exception",
            title="exception silently swallowed",
            severity=Severity.MEDIUM,
            template=NAME,
            message=f"Empty catch block at {target.path}:{number} hides every error from the try block.",
            suggestion="Handle the error you expect and rethrow (or at least log) anything else.",
        )
        if finding:
            yield finding
