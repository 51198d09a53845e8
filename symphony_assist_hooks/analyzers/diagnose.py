"""Explainers for a failing test's exception: one function per kind, each naming the test's own symbols.

Every explainer takes a `Context` and returns a `Verdict` or None when the failure is not its kind.
Reading the project's files (to suggest a close name) is best-effort and read-only; nothing is imported.
"""

from __future__ import annotations

import ast
import re
import sys

from .context import Context, Verdict, def_name, quote
from .imports import close_names, did_you_mean, import_error, module_file, source_names

__all__ = ["explain_exception", "fallback"]


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


# -- other exception kinds ----------------------------------------------------------------------------------
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
    else:
        owner, attr = "object", ""
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
        tree = ast.parse(_dedent(source))
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


def _dedent(source: str) -> str:
    import textwrap

    return textwrap.dedent(source)


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


def zero_division(ctx: Context) -> Verdict:
    frame = ctx.inner
    code = (frame.caret or frame.failing) if frame else ""
    divisor = re.split(r"//?|%", code)[-1].strip() if re.search(r"/|%", code) else "the divisor"
    while divisor.count(")") > divisor.count("("):
        divisor = divisor[:-1].rstrip()
    counted = re.search(r"len\((\w+)\)", divisor)
    subject = counted.group(1) if counted else divisor
    empties = [f"`{k}` = {v}" for k, v in (frame.locals.items() if frame else []) if v in ("[]", "()", "{}", "0")]
    why = f" ({', '.join(empties)})" if empties else ""
    return Verdict(
        "zero-division",
        f"`{ctx.test}`: `{divisor}` is zero in {quote(code) if code else 'a division'} at {ctx.at(frame)}{why}"
        f"{ctx.via()}.",
        f"Handle the empty/zero case before dividing (e.g. `if not {subject}: return 0`), "
        "or make the test supply valid input if zero cannot happen in real use.",
    )


def recursion(ctx: Context) -> Verdict:
    frame = ctx.inner
    funcs = [f.func or def_name(f) for f in ctx.parsed.frames if f.project]
    func = max(set(funcs), key=funcs.count) if funcs else "a function"
    return Verdict(
        "recursion",
        f"`{ctx.test}`: `{func}` calls itself without ever reaching its base case (RecursionError) at "
        f"{ctx.at(frame)}{ctx.line_of(frame)}.",
        f"Give `{func}` a base case that the input always reaches, and guard against cycles in the data "
        "(track visited nodes) or rewrite it as a loop.",
    )


_PATH_IN_MESSAGE = re.compile(r"(?::\s*)?'(?P<path>[^']+)'\s*$")


def file_error(ctx: Context) -> Verdict | None:
    frame = ctx.inner
    m = _PATH_IN_MESSAGE.search(ctx.message)
    path = m.group("path") if m else ""
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if ctx.short == "PermissionError":
        return Verdict(
            "permission-error",
            f"`{ctx.test}` was denied access to `{path or 'a file'}` ({ctx.message}) at {where}.",
            "Write to a test-owned location (pytest's `tmp_path`) instead of a system path, and check the "
            "file's mode and owner if the code really must use it.",
        )
    if ctx.short in {"FileNotFoundError", "IsADirectoryError", "NotADirectoryError"}:
        relative = bool(path) and not path.startswith(("/", "\\")) and not re.match(r"^[A-Za-z]:", path)
        if relative:
            reason = (
                f"`{path}` is a relative path, resolved against the directory pytest runs in, not against the test file"
            )
            fix = (
                f'Build the path from the test file: `Path(__file__).parent / "{path}"`, or create the file '
                "in `tmp_path` first."
            )
        else:
            reason = f"`{path}` does not exist when the code opens it (nothing created it first)"
            fix = (
                "Create the file in the test's arrange step (e.g. `(tmp_path / 'x.json').write_text(...)`) "
                "or pass the path of a fixture file that is committed."
            )
        return Verdict("file-not-found", f"`{ctx.test}`: {reason} ({ctx.short}) at {where}.", fix)
    return None


_NETWORK_TYPES = {
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectTimeoutError",
    "NewConnectionError",
    "MaxRetryError",
    "gaierror",
    "herror",
    "URLError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "RemoteProtocolError",
    "ProxyError",
    "SSLError",
    "NameResolutionError",
    "timeout",
    "TimeoutException",
    "NetworkError",
}
_NETWORK_TEXT = re.compile(
    r"Connection refused|Name or service not known|Network is unreachable|"
    r"Temporary failure in name resolution|No route to host|Failed to establish a new connection"
)


def network(ctx: Context) -> Verdict | None:
    text = " ".join([ctx.message, *ctx.parsed.causes])
    if ctx.short not in _NETWORK_TYPES and not _NETWORK_TEXT.search(text):
        return None
    frame = ctx.inner
    host = re.search(r"host='(?P<h>[^']+)', port=(?P<p>\d+)", text)
    address = f"{host.group('h')}:{host.group('p')}" if host else ""
    if not address:
        for f in reversed(ctx.parsed.frames):
            if a := re.search(r"\('(?P<h>[\w.:-]+)', (?P<p>\d+)\)", " ".join([*f.locals.values(), f.failing])):
                address = f"{a.group('h')}:{a.group('p')}"
                break
    target = f" at {address}" if address else ""
    return Verdict(
        "network-error",
        f"`{ctx.test}` tried to reach a network service{target} and failed ({ctx.short}: {ctx.message[:160]}) at "
        f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}: nothing is listening there, or the network is not "
        "available in the test run.",
        "Do not depend on a live service in a unit test: mock the client (responses / respx / "
        "`monkeypatch.setattr`) or start a local server in a fixture; mark real integration tests "
        "(`@pytest.mark.integration`) and skip them when the service is absent.",
    )


def type_error(ctx: Context) -> Verdict:
    frame = ctx.inner
    msg = ctx.message
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if m := re.search(r"(?P<func>[\w.]+)\(\) takes (?P<want>.+?) but (?P<got>\d+) (?:was|were) given", msg):
        fix = (
            f"Call `{m.group('func')}` with the parameters it declares ({m.group('want')}); if the extra "
            f"argument is new API, add the parameter to `{m.group('func')}`."
        )
    elif m := re.search(
        r"(?P<func>[\w.]+)\(\) missing (?P<n>\d+) required (?:positional|keyword-only) "
        r"arguments?: (?P<names>.+)",
        msg,
    ):
        fix = f"Pass {m.group('names')} to `{m.group('func')}` (or give the parameter a default if it is optional)."
    elif m := re.search(r"(?P<func>[\w.]+)\(\) got an unexpected keyword argument '(?P<kw>\w+)'", msg):
        fix = f"`{m.group('func')}` has no parameter `{m.group('kw')}`: check its signature for the current name."
    elif m := re.search(r"'(?P<type>\w+)' object is not (?P<what>iterable|callable|subscriptable)", msg):
        expected = {"iterable": "a list/iterable", "callable": "a function", "subscriptable": "a container"}
        shown = quote(frame.caret or frame.failing) if frame else "that expression"
        fix = (
            f"A `{m.group('type')}` is used where {expected[m.group('what')]} is expected in {shown}: pass the "
            "right value (e.g. wrap a single item in a list) or fix the call."
        )
    elif re.search(r"can only concatenate|unsupported operand|must be str, not|not supported between", msg):
        fix = (
            "Convert the operand to the right type first (an f-string or str() for text, int()/float() for "
            "numbers); check which input has the unexpected type."
        )
    else:
        fix = "Check the types and the number of arguments passed at that line against the function's signature."
    return Verdict("type-error", f"`{ctx.test}` raised TypeError: {msg} at {where}.", fix)


def value_error(ctx: Context) -> Verdict:
    frame = ctx.inner
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if m := re.search(r"invalid literal for (?P<conv>\w+)\(\)(?: with base \d+)?: (?P<value>.+)$", ctx.message):
        fix = (
            f"{m.group('value')} is not a valid {m.group('conv')}: validate or clean the input before "
            f"converting (strip separators/whitespace), or expect the error with `pytest.raises(ValueError)`."
        )
    elif "Expecting value" in ctx.message or ctx.short == "JSONDecodeError":
        fix = "The text is not JSON (empty, HTML error page, or truncated): check what was actually received."
    elif re.search(r"(not enough|too many) values to unpack", ctx.message):
        fix = "The number of names on the left does not match the items on the right: check the data's shape."
    else:
        fix = (
            "The code rejected its input on purpose: either the test passes an invalid value (fix the test's "
            "data) or the validation is too strict (fix the check) — or assert it with `pytest.raises`."
        )
    return Verdict("value-error", f"`{ctx.test}` raised {ctx.short}: {ctx.message} at {where}.", fix)


def explain_exception(ctx: Context) -> Verdict | None:
    """The verdict for the final exception's kind, or None when no explainer knows it."""
    short = ctx.short
    if short in {"ImportError", "ModuleNotFoundError"}:
        return import_error(ctx)
    if "NoneType" in ctx.message and short in {"AttributeError", "TypeError"}:
        return none_value(ctx)
    if short == "AttributeError":
        return attribute_error(ctx)
    if short == "KeyError":
        return key_error(ctx)
    if short == "IndexError":
        return index_error(ctx)
    if short == "ZeroDivisionError":
        return zero_division(ctx)
    if short == "RecursionError":
        return recursion(ctx)
    if (verdict := network(ctx)) is not None:
        return verdict
    if (verdict := file_error(ctx)) is not None:
        return verdict
    if short == "TypeError":
        return type_error(ctx)
    if short in {"ValueError", "JSONDecodeError", "UnicodeDecodeError"}:
        return value_error(ctx)
    return None


def fallback(ctx: Context) -> Verdict:
    """Still specific: which exception, where (innermost project frame) and with what message."""
    frame = ctx.inner
    exc = ctx.exc or "an exception"
    raised_by = frame.func or def_name(frame) if frame else ""
    deliberate = frame is not None and frame.failing.startswith("raise ")
    unbound = re.search(r"(?:variable|name) '(\w+)'", ctx.message)
    if ctx.short in {"UnboundLocalError", "NameError"} and unbound:
        name, func = unbound.group(1), (frame.func or def_name(frame)) if frame else ""
        fix = (
            f"`{name}` is assigned only on some paths through `{func or 'the function'}`: give it a value before "
            "the branches (or handle the missing case explicitly)."
            if ctx.short == "UnboundLocalError"
            else f"`{name}` is not defined where it is used: fix the spelling, import it, or define it first."
        )
        return Verdict(
            "exception",
            f"`{ctx.test}` failed with {ctx.short}: {ctx.message} at {ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}.",
            fix,
        )
    if ctx.short == "NotImplementedError":
        fix = (
            f"The code under test is not written yet ({ctx.message or 'NotImplementedError'}): implement it, or "
            "mark the test `@pytest.mark.xfail(raises=NotImplementedError, reason=...)` until it is."
        )
        return Verdict(
            "exception",
            f"`{ctx.test}` reached unimplemented code: {exc}: {ctx.message} raised at "
            f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}.",
            fix,
        )
    fix = (
        (
            f"`{raised_by or 'the code'}` raises {ctx.short} on purpose: make the test set up the state it requires, "
            f"or, if raising is the correct behaviour, assert it with `with pytest.raises({ctx.short}):`."
        )
        if deliberate
        else (f"Read the code at {ctx.at(frame)} and check what made it raise {ctx.short} with these inputs.")
    )
    if not ctx.exc and not frame:
        first = next((ln.strip() for ln in ctx.failure.longrepr.splitlines() if ln.strip()), "no failure text")
        return Verdict(
            "exception",
            f"`{ctx.test}` failed at {ctx.at(None)}: {first[:200]}",
            "pytest's report did not include a traceback: re-run the test with `-vv --tb=long` to see where it fails.",
        )
    message = f": {ctx.message}" if ctx.message else ""
    return Verdict(
        "exception",
        f"`{ctx.test}` failed with {exc}{message} raised at {ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}.",
        fix,
    )
