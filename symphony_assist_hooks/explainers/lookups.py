"""Explainers for a value that is not there: None used as a value, a missing attribute, a missing key, an
index out of range. Each names the expression the test's own code used and, where it can, the names it has.

Reading the project's files (to suggest a close name) is best-effort and read-only; nothing is imported.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap

from .context import Context, Verdict, quote
from .imports import close_names, did_you_mean, module_file, source_names

__all__ = ["attribute_error", "index_error", "key_error", "none_value"]


# -- None --------------------------------------------------------------------------------------------------
_NONE_ATTR = re.compile(r"'NoneType' object has no attribute '(?P<attr>\w+)'")
_NONE_TYPE = re.compile(
    r"'NoneType' object (?P<what>is not (?:subscriptable|iterable|callable)|"
    r"does not support item assignment)|unsupported operand type\(s\) for .+: .*'NoneType'|"
    r"object of type 'NoneType' has no len\(\)|argument of type 'NoneType' is not iterable"
)


def _before_attr(code: str, attr: str) -> str:
    """The expression whose `.attr` is read in `code` (balanced brackets, walking back from `.attr`)."""
    idx = code.rfind(f".{attr}")
    if idx < 0:
        return ""
    depth, i = 0, idx - 1
    while i >= 0:
        ch = code[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (ch.isalnum() or ch in "_."):
            break
        i -= 1
    return code[i + 1 : idx].strip()


def _producer(expr: str) -> str:
    call = re.match(r"^(?P<name>[\w.]+)\(", expr)
    return f"`{call.group('name')}(…)` returned None" if call else f"`{expr}` is None"


def none_value(ctx: Context) -> Verdict | None:
    frame = ctx.inner
    code = (frame.caret or frame.failing) if frame else ""
    if m := _NONE_ATTR.search(ctx.message):
        attr = m.group("attr")
        expr = _before_attr(code, attr) or _before_attr(frame.failing if frame else "", attr)
        subject = _producer(expr) if expr else "a value was None"
        return Verdict(
            "attribute-error-on-none",
            f"In `{ctx.test}`, {subject}, so reading `.{attr}` failed at {ctx.at(frame)}{ctx.line_of(frame)}"
            f"{ctx.via()}.",
            f"Find out why {quote(expr) if expr else 'the value'} is None here (a lookup that found nothing, a "
            "function that forgot to `return`, an optional field left unset): fix that, or guard with "
            f"`if {expr or 'value'} is not None:` if None is legitimate, and let the test assert it explicitly.",
        )
    if m := _NONE_TYPE.search(ctx.message):
        target = code
        sub = re.match(r"^(?P<expr>.+?)\[", target) if "subscriptable" in ctx.message else None
        it = re.search(r"\bin\s+(?P<expr>[\w.]+\([^()]*\)|[\w.]+)", target) if "iterable" in ctx.message else None
        length = re.search(r"\blen\((?P<expr>[^()]+(?:\([^()]*\))?)\)", target) if "len()" in ctx.message else None
        expr = sub.group("expr") if sub else it.group("expr") if it else length.group("expr") if length else ""
        expr = expr.strip()
        subject = _producer(expr) if expr else "a value was None"
        return Verdict(
            "type-error-on-none",
            f"In `{ctx.test}`, {subject} and the code then used it as a real value ({ctx.message}) at "
            f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}.",
            f"Make {quote(expr) if expr else 'that expression'} "
            f"{'return' if expr.endswith(')') else 'hold'} a value in this case (check its `return` "
            "paths and inputs), or handle None before using it (`or []` / `or {}` only if empty is correct).",
        )
    return None


# -- missing attributes, keys and indexes ------------------------------------------------------------------
def attribute_error(ctx: Context) -> Verdict:
    frame = ctx.inner
    m = re.search(r"'(?P<type>\w+)' object has no attribute '(?P<attr>\w+)'", ctx.message)
    mod = re.search(r"module '(?P<module>[\w.]+)' has no attribute '(?P<attr>\w+)'", ctx.message)
    hint = ""
    if mod:
        module = sys.modules.get(mod.group("module"))
        options = [n for n in dir(module) if not n.startswith("_")] if module else []
        if not options and (path := module_file(ctx.root, mod.group("module"))):
            options = source_names(path)
        hint = did_you_mean(close_names(mod.group("attr"), options))
        owner, attr = f"module `{mod.group('module')}`", mod.group("attr")
    elif m:
        owner, attr = f"`{m.group('type')}` object", m.group("attr")
        options = _class_members(ctx, m.group("type"))
        hint = did_you_mean(close_names(attr, options))
    else:  # not a missing name: a read-only property, a frozen or slotted class, a deleted attribute
        return Verdict(
            "attribute-error",
            f"`{ctx.test}` raised AttributeError: {ctx.message} at {ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}.",
            "Use the attribute the way its class allows (a property without a setter, a frozen dataclass or "
            "`__slots__` refuse assignment), or change the class if the test describes the intended API.",
        )
    suggestion = re.search(r"Did you mean: '(\w+)'", ctx.parsed.text)
    if suggestion and not hint:
        hint = f" Did you mean `{suggestion.group(1)}`?"
    return Verdict(
        "attribute-error",
        f"`{ctx.test}` uses `.{attr}` on a {owner} that has no such attribute at {ctx.at(frame)}"
        f"{ctx.line_of(frame)}{ctx.via()}.{hint}",
        f"Use the attribute's real name{' (see above)' if hint else ''}, or add `{attr}` to the class if the test "
        "describes the intended API; a renamed attribute needs every caller updated.",
    )


def _class_members(ctx: Context, cls: str) -> list[str]:
    test_file = ctx.root / ctx.failure.path if ctx.failure.path else None
    if not test_file or not test_file.is_file():
        return []
    try:
        tree = ast.parse(test_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == cls for a in node.names):
            path = module_file(ctx.root, node.module)
            if path:
                return source_names(path, cls)
    return source_names(test_file, cls)


def key_error(ctx: Context) -> Verdict:
    frame = ctx.inner
    key = ctx.message
    code = (frame.caret or frame.failing) if frame else ""
    m = re.search(r"(?P<container>[\w.]+(?:\([^()]*\))?)\s*(?:\[|\.pop\()", code)
    container = m.group("container") if m else ""
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if container in {"os.environ", "environ"}:
        return Verdict(
            "key-error",
            f"`{ctx.test}`: the environment variable {key} is not set at {where}.",
            f"Set it for the test (`monkeypatch.setenv({key}, ...)`), or skip when it is missing "
            f"(`pytest.skip` if `os.environ.get({key})` is None); read it with a default if it is optional.",
        )
    shown = "\n".join(line for f in ctx.parsed.frames for line in f.source)
    known = (
        (_dict_keys(ctx.failure.test_source, container) or _dict_literal_keys(shown, container)) if container else []
    )
    hint = f" It has {', '.join(known)}." if known else ""
    subject = f"`{container}` has no key {key}" if container else f"the key {key} is missing"
    fix_target = f"`{container}`" if container else "the mapping"
    lookup = f" use `{container}.get({key}, default)`" if container else " use `.get(key, default)`"
    return Verdict(
        "key-error",
        f"`{ctx.test}`: {subject} at {where}.{hint}",
        f"Add {key} where {fix_target} is built (or fix the key's spelling);{lookup} only if a missing key is "
        "expected.",
    )


def _dict_keys(source: str, name: str) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ):
            return [ast.unparse(k) for k in node.value.keys if k is not None]
    return []


def _dict_literal_keys(text: str, name: str) -> list[str]:
    """Keys of a one-line `name = {...}` literal in the shown source."""
    m = re.search(rf"\b{re.escape(name)}\s*=\s*(\{{.*\}})\s*$", text, re.M)
    if not m:
        return []
    try:
        node = ast.parse(m.group(1), mode="eval").body
    except SyntaxError:
        return []
    return [ast.unparse(k) for k in node.keys if k is not None] if isinstance(node, ast.Dict) else []


def index_error(ctx: Context) -> Verdict:
    frame = ctx.inner
    code = (frame.caret or frame.failing) if frame else ""
    m = re.search(r"(?P<seq>[\w.]+(?:\([^()]*\))?)\[(?P<index>[^\]]+)\]", code)
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if not m:
        return Verdict(
            "index-error",
            f"`{ctx.test}`: an index is out of range ({ctx.message}) at {where}.",
            "Check how many items the sequence really has there (an empty result, an off-by-one) and guard the "
            "access, or make the test build enough items.",
        )
    seq, index = m.group("seq"), m.group("index")
    return Verdict(
        "index-error",
        f"`{ctx.test}`: `{seq}[{index}]` is out of range ({ctx.message}) at {where}: `{seq}` has fewer items than "
        "the code assumes.",
        f"Check how many items `{seq}` really has here (an empty result, an off-by-one); guard the access "
        f"(`if len({seq}) > {index}`) or make the test build enough items.",
    )
