"""The code_review checks that read comments: TODO/FIXME without an owner (todo-no-owner) and runs of
commented-out code (commented-out-code), both on the comments `comments` finds in a `Target`.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator

from ..findings import Finding, Severity
from .common import Target, make_finding

__all__ = ["commented_out_code", "comments", "todo_without_owner"]

NAME = "code_review"

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
