"""Explainers for a failing test's exception: one function per kind, each naming the test's own symbols.

Every explainer takes a `Context` and returns a `Verdict` or None when the failure is not its kind.
`explain_exception` picks the explainer for the final exception's kind: missing values (None, attributes, keys,
indexes) are in `lookups.py`, files and network in `resources.py`, imports in `imports.py`; arithmetic,
recursion, type and value errors are here, with `fallback` for every other kind.
Reading the project's files (to suggest a close name) is best-effort and read-only; nothing is imported.
"""

from __future__ import annotations

import re

from .context import Context, Verdict, def_name, quote
from .imports import import_error
from .lookups import attribute_error, index_error, key_error, none_value
from .resources import file_error, network

__all__ = ["explain_exception", "fallback"]


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
            f"converting (strip separators/whitespace)."
        )
    elif "Expecting value" in ctx.message or ctx.short == "JSONDecodeError":
        fix = "The text is not JSON (empty, HTML error page, or truncated): check what was actually received."
    elif re.search(r"(not enough|too many) values to unpack", ctx.message):
        fix = "The number of names on the left does not match the items on the right: check the data's shape."
    else:
        fix = (
            "The code rejected its input on purpose: either the test passes an invalid value (fix the test's "
            "data) or the validation is too strict (fix the check)."
        )
    return Verdict("value-error", f"`{ctx.test}` raised {ctx.short}: {ctx.message} at {where}.", fix)


def explain_exception(ctx: Context) -> Verdict | None:
    """The verdict for the final exception's kind, or None when no explainer knows it."""
    short = ctx.short
    if short in {"ImportError", "ModuleNotFoundError"}:
        return import_error(ctx)
    if "NoneType" in ctx.message and short in {"AttributeError", "TypeError"} and (found := none_value(ctx)):
        return found  # else a TypeError of another shape (`range(None)`): the explainers below
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
            f"`{raised_by or 'the code'}` raises {ctx.short} on purpose, and the test did not expect it: check the "
            "condition that raised and the values feeding it, or the state the test sets up."
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
