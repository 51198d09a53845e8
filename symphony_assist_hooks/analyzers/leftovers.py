"""The code_review check for debugging leftovers (debug-leftover): breakpoint(), pdb.set_trace(), `debugger;`,
binding.pry, and debug-looking print()/console.log outside scripts, CLIs and tests.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from ..findings import Finding, Severity
from .common import Target, enclosing_functions, is_test_path, make_finding

__all__ = ["debug_leftovers"]

NAME = "code_review"

_DEBUGGERS = {"pdb", "ipdb", "pudb", "rpdb", "web_pdb", "remote_pdb", "wdb"}
_DEBUG_TEXT = re.compile(r"^\s*(debug|dbg|xxx|here\b|got here|wtf|temp\b|tmp\b|>>>|\*\*\*|---|===|!!!|@@@)", re.I)
_INSPECT_CALLS = {"locals", "vars", "dir", "type", "repr", "id", "globals"}
_CLI_NAMES = {"cli.py", "__main__.py", "main.py", "manage.py", "setup.py", "noxfile.py", "conftest.py"}
_CLI_DIRS = {"scripts", "bin", "tools", "examples", "bench", "docs"}
_JS_CONSOLE = re.compile(r"\bconsole\.(log|debug|trace|dir)\s*\(")
_JS_DEBUGGER = re.compile(r"^\s*debugger\s*;?\s*$")
_RUBY_DEBUG = re.compile(r"\b(binding\.(pry|irb)|byebug)\b")


def _prints_allowed(target: Target) -> bool:
    path = PurePosixPath(target.path)
    if path.name in _CLI_NAMES or _CLI_DIRS & set(path.parts[:-1]) or is_test_path(target.path):
        return True
    return bool(re.search(r"__name__\s*==\s*['\"]__main__['\"]|\bimport (argparse|click|typer)\b", target.text))


def _debug_print(call: ast.Call) -> bool:
    args = call.args
    if not args:
        return False
    first = args[0]
    if isinstance(first, ast.JoinedStr):
        parts = [v for v in first.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        if any(str(p.value).endswith("=") for p in parts) or (parts and _DEBUG_TEXT.match(str(parts[0].value))):
            return True
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return bool(_DEBUG_TEXT.match(first.value))
    return all(
        isinstance(a, ast.Name | ast.Attribute | ast.Subscript)
        or (isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id in _INSPECT_CALLS)
        for a in args
    )


def debug_leftovers(target: Target, tree: ast.Module | None) -> Iterator[Finding]:
    """breakpoint()/pdb.set_trace()/debugger; everywhere; debug-looking print()/console.log in library code."""
    hits: dict[int, tuple[str, Severity, str]] = {}
    if target.language == "python" and tree is not None:
        owners = enclosing_functions(tree)
        prints_ok = _prints_allowed(target)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(n.split(".")[0] in _DEBUGGERS for n in names):
                    hits.setdefault(node.lineno, (f"import {names[0]}", Severity.MEDIUM, "debugger import"))
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            where = owners.get(node.lineno)
            inside = f" in `{where}`" if where else ""
            if isinstance(func, ast.Name) and func.id == "breakpoint":
                hits[node.lineno] = (f"breakpoint(){inside}", Severity.MEDIUM, "breakpoint() left in")
            elif isinstance(func, ast.Attribute) and func.attr in {"set_trace", "post_mortem", "embed"}:
                base = func.value.id if isinstance(func.value, ast.Name) else ""
                if base in _DEBUGGERS | {"IPython"} or func.attr == "set_trace":
                    hits[node.lineno] = (f"{base}.{func.attr}(){inside}", Severity.MEDIUM, "debugger call left in")
            elif isinstance(func, ast.Name) and func.id in {"print", "pprint"} and not prints_ok and _debug_print(node):
                shown = ast.get_source_segment(target.text, node) or ast.unparse(node)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                hits.setdefault(node.lineno, (f"`{shown}`{inside}", Severity.LOW, "debug print left in"))
    elif target.language in {"javascript", "typescript"}:
        console_ok = is_test_path(target.path) or bool(_CLI_DIRS & set(PurePosixPath(target.path).parts[:-1]))
        for number in target.changed_lines:
            text = target.line(number)
            if _JS_DEBUGGER.match(text):
                hits[number] = ("debugger;", Severity.MEDIUM, "debugger statement left in")
            elif not console_ok and (m := _JS_CONSOLE.search(text)) and not text.lstrip().startswith("//"):
                hits[number] = (f"console.{m.group(1)}(...)", Severity.LOW, "console logging left in")
    elif target.language == "ruby":
        for number in target.changed_lines:
            if m := _RUBY_DEBUG.search(target.line(number)):
                hits[number] = (m.group(1), Severity.MEDIUM, "debugger call left in")
    for number, (what, severity, title) in sorted(hits.items()):
        finding = make_finding(
            target,
            number,
            rule="debug-leftover",
            title=title,
            severity=severity,
            template=NAME,
            message=f"{what} at {target.path}:{number} looks like a debugging leftover"
            + (" and stops the program when reached." if severity is Severity.MEDIUM else "."),
            suggestion="Remove it before committing; use logging (logger.debug) for output you mean to keep.",
        )
        if finding:
            yield finding
