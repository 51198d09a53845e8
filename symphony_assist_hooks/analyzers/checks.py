"""The code_review checks linters miss, each a function from a `Target` to findings on its changed lines.

Rule ids are stable (they feed fingerprints and suppressions): conflict-marker, long-line, debug-leftover,
todo-no-owner, commented-out-code, swallowed-exception, long-function, mutable-default.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import PurePosixPath

from ..findings import Finding, Severity
from .common import Target, enclosing_functions, is_test_path, make_finding

__all__ = [
    "LONG_FUNCTION",
    "LONG_LINE",
    "commented_out_code",
    "comments",
    "conflict_markers",
    "debug_leftovers",
    "long_lines",
    "python_checks",
    "swallowed_catch_js",
    "todo_without_owner",
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


# -- comments -----------------------------------------------------------------------------------------------
_HASH_LANGS = {"shell", "yaml", "toml", "ruby", "dotenv", "make", "dockerfile", "ini", "terraform"}
_SLASH_LANGS = {"javascript", "typescript", "go", "java", "css"}


def comments(target: Target) -> list[tuple[int, str, bool]]:
    """(line, comment text without its marker, whole-line?) for the languages we know how to read."""
    if target.language == "python":
        out: list[tuple[int, str, bool]] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(target.text).readline):
                if tok.type == tokenize.COMMENT:
                    whole = not tok.line[: tok.start[1]].strip()
                    out.append((tok.start[0], tok.string[1:], whole))
        except (tokenize.TokenError, SyntaxError):
            pass
        return out
    marker = "#" if target.language in _HASH_LANGS else "//" if target.language in _SLASH_LANGS else None
    if marker is None:
        return []
    found = []
    for number, text in enumerate(target.lines, 1):
        stripped = text.lstrip()
        if stripped.startswith(marker) and not stripped.startswith("#!"):
            found.append((number, stripped[len(marker) :], True))
        elif f" {marker} " in text and marker == "//":
            found.append((number, text.split(f" {marker} ", 1)[1], False))
    return found


_TODO = re.compile(r"^\s*(TODO|FIXME|XXX|HACK)\b(?P<rest>.*)", re.I)
_OWNER = re.compile(r"^\s*(\(|\[|@\w|#\d|:?\s*[A-Z][A-Z0-9]+-\d+|:?\s*#\d|:?\s*\S*https?://)")


def todo_without_owner(target: Target, found: list[tuple[int, str, bool]]) -> Iterator[Finding]:
    """TODO/FIXME comments without an owner or issue (TODO(name), TODO @name, TODO #123, TODO ABC-12 are fine)."""
    for number, text, _ in found:
        m = _TODO.match(text)
        if not m or not m.group(1).isupper() or _OWNER.match(m.group("rest")):
            continue
        tag = m.group(1)
        finding = make_finding(
            target,
            number,
            rule="todo-no-owner",
            title=f"{tag} without an owner",
            severity=Severity.INFO,
            template=NAME,
            message=f"The {tag} at {target.path}:{number} names no owner or issue, so nobody will pick it up.",
            suggestion=f"Write it as `{tag}(your-name): …` or link an issue (`{tag} #123`), or do it now.",
        )
        if finding:
            yield finding


_NOT_CODE = re.compile(r"^\s*(type:|noqa|pragma|fmt:|pylint:|mypy:|pyright:|isort:|ruff:|nosec|-\*-|>>>|\.\.\.)")
_BLOCK_START = re.compile(r"^(if|for|while|def|class|with|try|elif|else|except|finally|async)\b.*:\s*$")
_JS_CODE = re.compile(
    r"(;\s*$|^\s*[}{]\s*$|^\s*(const|let|var|return|if|for|function)\b.*[;{(]|^\s*[\w.]+\(.*\);?\s*$)"
)


def _is_python_code(text: str) -> bool:
    text = text.strip()
    if not text or _NOT_CODE.match(text):
        return False
    if _BLOCK_START.match(text):
        text += " pass"
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    if len(tree.body) != 1:
        return False
    node = tree.body[0]
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Call | ast.Await | ast.Yield)
    if isinstance(node, ast.AnnAssign):
        return node.value is not None
    return not isinstance(node, ast.Pass)


def commented_out_code(target: Target, found: list[tuple[int, str, bool]]) -> Iterator[Finding]:
    """Runs of whole-line comments where at least two lines are code: dead code belongs in version control."""
    if target.language == "python":
        is_code = _is_python_code
    elif target.language in {"javascript", "typescript"}:

        def is_code(text: str) -> bool:
            return bool(_JS_CODE.search(text)) and not text.strip().startswith(("eslint", "@ts-", "prettier"))

    else:
        return
    blocks: list[list[tuple[int, bool]]] = []
    previous = -1
    for number, text, whole in found:
        if not whole:
            continue
        if number != previous + 1:
            blocks.append([])
        blocks[-1].append((number, is_code(text)))
        previous = number
    for block in blocks:
        code_lines = [n for n, code in block if code]
        if len(code_lines) < 2 or len(code_lines) * 2 < len(block):
            continue
        finding = make_finding(
            target,
            code_lines[0],
            end_line=code_lines[-1],
            rule="commented-out-code",
            title="commented-out code",
            severity=Severity.LOW,
            template=NAME,
            message=f"{len(code_lines)} lines of commented-out code at {target.path}:{code_lines[0]}-{code_lines[-1]}.",
            suggestion="Delete it: version control keeps the old code. If it is an example, say so in prose.",
        )
        if finding:
            yield finding


# -- debugging leftovers ------------------------------------------------------------------------------------
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
