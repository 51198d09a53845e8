"""Who computed the wrong value: the prime suspects of a failing test in the project's own code.

Called by `pytest_assist.capture_failure` in the process that ran the test, while the traceback's frames
still exist. Stdlib only (and `gitcli` for `git diff HEAD`); nothing here imports or runs project code
beyond what the test already ran: called functions are resolved statically from the failing frame's
globals and locals.

A suspect is a function in the project (not the test file, not site-packages, not the standard library)
with the lines that matter in it:
- the deepest project frame below the test: the line that raised, the enclosing conditions and the
  assignments feeding them (`feeding_lines`, a small dataflow walk on the function's AST);
- when the failure is raised in the test itself (`assert f(x) == y`), the project functions called in the
  failing statement: their `return` lines and the assignments feeding them;
- a line changed since HEAD (`git diff HEAD -U0` on the suspect files) inside a suspect function comes
  first: the line a developer just changed is the likeliest cause.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import GitError
from ..git import process as gitcli
from ..git.env import DIFF_OPTIONS

__all__ = ["changed_lines", "diff_of", "feeding_lines", "function_suspect", "guard_lines", "returned_lines"]

MAX_LINES = 4  # suspect lines named per function: the prime line and the closest feeding ones
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_DIFFS: dict[tuple[str, str, float], tuple[str, frozenset[int]]] = {}


# ------------------------------------------------------------------------------------------ dataflow
def _function_node(source: str) -> ast.AST | None:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), tree)


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _statements(func: ast.AST) -> list[ast.stmt]:
    return [n for n in ast.walk(func) if isinstance(n, ast.stmt) and n is not func]


def _parents(func: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(func) for child in ast.iter_child_nodes(node)}


def feeding_lines(source: str, targets: Iterable[int], *, limit: int = 12) -> list[int]:
    """Lines (relative to `source`, 1-based) that feed the statements at `targets`.

    The enclosing `if`/`while`/`for` headers of each target, and, for every name read there, the lines
    assigning it (`=`, `+=`, `for x in`, `with … as x`, `x :=`), followed transitively. Positional, not
    path-sensitive: small and good enough to name the handful of lines a person would read first.
    """
    func = _function_node(source)
    if func is None:
        return []
    stmts = _statements(func)
    parents = _parents(func)
    wanted = set(targets)
    todo: list[ast.AST] = [s for s in stmts if s.lineno in wanted and not isinstance(s, ast.FunctionDef)]
    found: set[int] = set()
    names: set[str] = set()
    seen_names: set[str] = set()
    while todo and len(found) < limit:
        node = todo.pop()
        parent = parents.get(node)
        while parent is not None and parent is not func:  # the conditions that led here
            if isinstance(parent, ast.If | ast.While) and parent.lineno not in found:
                found.add(parent.lineno)
                names |= _reads(parent.test)
            elif isinstance(parent, ast.For | ast.AsyncFor) and parent.lineno not in found:
                found.add(parent.lineno)
                names |= _reads(parent.iter)
            parent = parents.get(parent)
        names |= _reads(node.value if isinstance(node, ast.Return) and node.value else node)
        fresh = names - seen_names
        seen_names |= fresh
        for stmt in stmts:
            stored: set[str] = set()
            if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets_ = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                stored = set().union(*(_stores(t) for t in targets_))
                if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                    stored.add(stmt.target.id)
            elif isinstance(stmt, ast.For | ast.AsyncFor):
                stored = _stores(stmt.target)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                stored = set().union(*(_stores(i.optional_vars) for i in stmt.items if i.optional_vars))
            if stored & fresh and stmt.lineno not in found:
                found.add(stmt.lineno)
                todo.append(stmt)
                if isinstance(stmt, ast.For | ast.AsyncFor):
                    names |= _reads(stmt.iter)
    return sorted(found - wanted)


def returned_lines(source: str) -> list[int]:
    """The `return`/`yield` lines of the function in `source` (its own, not nested functions')."""
    func = _function_node(source)
    if func is None:
        return []
    out: list[int] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            if isinstance(child, ast.Return) or (
                isinstance(child, ast.Expr) and isinstance(child.value, ast.Yield | ast.YieldFrom)
            ):
                out.append(child.lineno)
            visit(child)

    visit(func)
    if not out and isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) and func.body:
        out.append(func.body[-1].lineno)  # no return: the function's effect is its last statement
    return sorted(out)


def guard_lines(source: str, raises: Callable[[ast.Call], bool] | None = None) -> list[int]:
    """The lines deciding whether the function in `source` raises: for each of its own `raise` statements
    (and calls `raises` says always raise, such as click's `self.fail(...)`), the innermost `if`/`while`
    header above it (the statement itself when nothing guards it). Empty when the function never raises:
    then the missing check is the bug, and its returns are what to read."""
    func = _function_node(source)
    if func is None:
        return []
    parents = _parents(func)
    out: set[int] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            call = child.value if isinstance(child, ast.Expr) and isinstance(child.value, ast.Call) else None
            if isinstance(child, ast.Raise) or (isinstance(child, ast.Expr) and call and raises and raises(call)):
                guard = parents.get(child)
                while guard is not None and guard is not func and not isinstance(guard, ast.If | ast.While):
                    guard = parents.get(guard)
                out.add(guard.lineno if isinstance(guard, ast.If | ast.While) else child.lineno)
            visit(child)

    visit(func)
    return sorted(out)


# ------------------------------------------------------------------------------------------ git
def changed_lines(path: str | os.PathLike[str], root: Path) -> tuple[str, frozenset[int]]:
    """(`git diff HEAD -U0` of `path`, the line numbers it added or changed), or ("", {}) outside git.

    Remembered per path and modification time for the process: 150 failures in one file ask once.
    """
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return "", frozenset()
    key = (str(p), str(root), mtime)
    if key in _DIFFS:
        return _DIFFS[key]
    result: tuple[str, frozenset[int]] = ("", frozenset())
    if _inside_git(p.parent):
        try:
            _, out = gitcli.run(["diff", *DIFF_OPTIONS, "-U0", "HEAD", "--", str(p)], cwd=p.parent, ok=(0, 1))
            text = out.decode("utf-8", "replace")
            lines: set[int] = set()
            for m in _HUNK.finditer(text):
                start, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
                lines.update(range(start, start + count))
            result = (text, frozenset(lines))
        except (GitError, OSError):
            pass
    _DIFFS[key] = result
    return result


def _inside_git(start: Path) -> bool:
    return any((folder / ".git").exists() for folder in (start, *start.parents))


def diff_of(path: str | os.PathLike[str], root: Path, first: int, last: int, limit: int = 4000) -> str:
    """The hunks of `git diff HEAD` on `path` that touch lines first..last (the suspect function)."""
    text, _ = changed_lines(path, root)
    if not text:
        return ""
    pieces = re.split(r"(?m)^(?=@@ )", text)
    kept = []
    for piece in pieces[1:]:
        m = _HUNK.match(piece)
        if m is None:
            continue
        start, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
        if start <= last and start + max(count, 1) - 1 >= first:
            kept.append(piece.rstrip("\n"))
    return "\n".join(kept)[:limit]


# ------------------------------------------------------------------------------------------ suspects
def function_suspect(
    code: Any,
    path: Path,
    root: Path,
    *,
    targets: Sequence[int] = (),
    why: str,
    rel: str,
    guards: bool = False,
    raises: Callable[[ast.Call], bool] | None = None,
) -> dict[str, Any] | None:
    """A suspect record for the function of `code` (a code object or function) in `path`.

    `targets` are absolute line numbers (the line that raised); empty means "what it returned", or with
    `guards` (a test expected an exception that never came) the conditions in front of its `raise`s
    (`raises`: which of its calls always raise, see `guard_lines`).
    """
    raw = getattr(code, "__code__", code)
    try:
        lines, first = inspect.getsourcelines(raw)
    except (OSError, TypeError, ValueError):
        return None
    first = max(first, 1)
    source = "".join(lines)
    last = first + len(lines) - 1
    if targets:
        rel_targets = [t - first + 1 for t in targets if first <= t <= last]
        kind = why
    else:
        rel_targets = (guards and guard_lines(source, raises)) or returned_lines(source)
        kind = why
    feeding = [first + n - 1 for n in feeding_lines(source, rel_targets)]
    prime = [first + n - 1 for n in rel_targets]
    _, changed = changed_lines(path, root)
    changed_here = sorted(n for n in changed if first <= n <= last)
    ordered: list[int] = []
    for n in [*changed_here, *sorted(prime, reverse=True)]:
        if n not in ordered:
            ordered.append(n)
    anchor = ordered[0] if ordered else first
    for n in sorted(feeding, key=lambda n: (abs(n - anchor), n)):
        if n not in ordered:
            ordered.append(n)
    named = ordered[:MAX_LINES]
    return {
        "path": rel,
        "func": getattr(raw, "co_qualname", None) or getattr(raw, "co_name", "") or "",
        "first": first,
        "line": named[0] if named else first,
        "lines": sorted(named),
        "changed": changed_here,
        "why": "changed since HEAD" if changed_here else kind,
        "source": source,
        "diff": diff_of(path, root, first, last) if changed_here else "",
    }
