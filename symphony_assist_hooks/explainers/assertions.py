"""Explainers for failed assertions: mismatches (which values, from which call), float equality, mock calls,
pytest.raises that did not raise, and the signs of a flaky or order-dependent test.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
from dataclasses import dataclass

from .context import Context, Verdict, quote

__all__ = ["explain_assertion"]

_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_UNITTEST = re.compile(
    r"self\.assert(?P<kind>Equal|NotEqual|True|False|In|NotIn|Is|IsNone|IsNotNone|"
    r"AlmostEqual|Greater|GreaterEqual|Less|LessEqual|Count\w*|Dict\w*|List\w*)\((?P<args>.*)\)\s*$"
)


@dataclass
class _Compare:
    left: str  # source expression
    op: str
    right: str
    left_value: str = ""
    right_value: str = ""


def _split_top(text: str, sep: str) -> tuple[str, str] | None:
    """Split at the first `sep` outside brackets and quotes."""
    depth, quote_char, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote_char:
            if ch == "\\":
                i += 2
                continue
            if ch == quote_char:
                quote_char = ""
        elif ch in "'\"":
            quote_char = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            return text[:i].strip(), text[i + len(sep) :].strip()
        i += 1
    return None


def _split_truncated(text: str, sep: str) -> tuple[str, str] | None:
    """Split where pytest's `...` truncation broke the quoting: prefer a right side that is a valid literal."""
    pieces = text.split(sep)
    for i in range(len(pieces) - 1, 0, -1):
        left, right = sep.join(pieces[:i]), sep.join(pieces[i:])
        if _literal(right) is not None or i == 1:
            return left.strip(), right.strip()
    return None


def _assigned_from(source: str, name: str) -> str:
    """The expression a test assigned to `name` (`config = parse_config(...)` → `parse_config(...)`)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.unparse(node.value)
    return ""


def _compare(ctx: Context) -> _Compare | None:
    frame = ctx.test_frame or ctx.inner
    code = frame.failing if frame else ""
    cmp: _Compare | None = None
    try:
        node = ast.parse(code.strip()).body[0] if code.strip().startswith("assert") else None
    except (SyntaxError, IndexError):
        node = None
    if isinstance(node, ast.Assert):
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            cmp = _Compare(ast.unparse(test.left), _OPS.get(type(test.ops[0]), "?"), ast.unparse(test.comparators[0]))
        else:
            cmp = _Compare(ast.unparse(test), "truthy", "")
    elif m := _UNITTEST.search(code):
        args = _split_top(m.group("args"), ",")
        left, right = args if args else (m.group("args"), "")
        cmp = _Compare(left, {"Equal": "==", "NotEqual": "!=", "In": "in"}.get(m.group("kind"), m.group("kind")), right)
    if cmp is None:
        return None
    # values from the introspection line: "assert 15.0 == 30.0" / "AssertionError: 90.0 != 80"
    for line in ctx.parsed.errors:
        text = re.sub(r"^AssertionError:\s*", "", line.strip())
        if text.startswith("assert "):
            body = text[len("assert ") :]
            op = cmp.op if cmp.op != "truthy" else ""
            parts = (_split_top(body, f" {op} ") or _split_truncated(body, f" {op} ")) if op else None
            if parts:
                cmp.left_value, cmp.right_value = parts
            elif not op:
                cmp.left_value = body
            break
        if parts := _split_top(text, " != "):
            cmp.left_value, cmp.right_value = parts
            break
    return cmp


def _literal(value: str) -> object:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _difference(left: str, right: str, ctx: Context) -> str:
    """One sentence on how two values differ (types, first differing position, differing items)."""
    details = [
        ln.strip()
        for ln in ctx.parsed.errors
        if re.match(
            r"\s*(At index|Differing items|Left contains|"
            r"Right contains|\{.*\} != \{)",
            ln,
        )
    ]
    lv, rv = _literal(left), _literal(right)
    if lv is not None and rv is not None and type(lv) is not type(rv) and str(lv) == str(rv):
        return f" Same text, different types: {type(lv).__name__} vs {type(rv).__name__}."
    if isinstance(lv, str) and isinstance(rv, str):
        i = next((k for k, (a, b) in enumerate(zip(lv, rv, strict=False)) if a != b), min(len(lv), len(rv)))
        got, want = lv[i : i + 1] or "end of text", rv[i : i + 1] or "end of text"
        return f" They first differ at character {i}: {got!r} vs {want!r}."
    detail = next((d for d in details if not d.startswith(("Differing items",))), "")
    if "Differing items:" in details:
        idx = ctx.parsed.errors.index(next(e for e in ctx.parsed.errors if e.strip() == "Differing items:"))
        detail = ctx.parsed.errors[idx + 1].strip() if idx + 1 < len(ctx.parsed.errors) else detail
        return f" Differing items: {detail}."
    if isinstance(lv, list | tuple) and isinstance(rv, list | tuple) and sorted(map(repr, lv)) == sorted(map(repr, rv)):
        return " Same items in a different order."
    return f" {detail}." if detail else ""


def _number(value: str) -> object:
    """A literal, or simple arithmetic on numeric literals as pytest shows it: `(0.1 + 0.2)`."""
    literal = _literal(value)
    if literal is not None:
        return literal
    try:
        node = ast.parse(value.strip(), mode="eval").body
    except SyntaxError:
        return None

    def calc(n: ast.expr) -> float:
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool):
            return n.value
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -calc(n.operand)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            left, right = calc(n.left), calc(n.right)
            ops = {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}
            return ops[type(n.op)] if type(n.op) in ops else left / right
        raise ValueError("not arithmetic")

    try:
        return calc(node)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _is_float_mismatch(cmp: _Compare) -> bool:
    lv, rv = _number(cmp.left_value), _number(cmp.right_value)
    if cmp.op not in {"==", "!="} or not all(isinstance(v, int | float) for v in (lv, rv)):
        return False
    assert isinstance(lv, int | float) and isinstance(rv, int | float)
    if not (isinstance(lv, float) or isinstance(rv, float)) or lv == rv:
        return False
    return math.isclose(lv, rv, rel_tol=1e-9, abs_tol=1e-12)


_NONDETERMINISTIC = re.compile(
    r"\brandom\.(?!seed)\w+|\bRandom\(\s*\)|\buuid[14]\(|\btime\.(time|perf_counter|"
    r"monotonic)\w*\(|\bdatetime\.(now|utcnow|today)\(|\bdate\.today\(|\bos\.urandom\(|"
    r"\bsecrets\.\w+\("
)
_FLAKY_WORDS = re.compile(
    r"\b(flaky|intermittent(ly)?|sometimes fails|race condition|order[- ]dependent)\b|"
    r"@pytest\.mark\.flaky",
    re.I,
)
_EMPTY_EXPECTED = {"0", "[]", "{}", "set()", "()", "None", "''", '""'}


def _tainted(source: str) -> set[str]:
    """Names in the test assigned (directly or through other names) from random or clock values."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return set()
    tainted: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = ast.unparse(node.value)
            uses = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if _NONDETERMINISTIC.search(value) or uses & tainted:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                tainted |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return tainted


def _flaky(ctx: Context, cmp: _Compare | None) -> Verdict | None:
    source = ctx.failure.test_source or "\n".join(ctx.test_frame.source if ctx.test_frame else [])
    test_line = (ctx.test_frame.failing if ctx.test_frame else "") or ""
    names = set(re.findall(r"[A-Za-z_]\w*", test_line))
    where = f"at {ctx.at(ctx.test_frame)}{ctx.line_of(ctx.test_frame)}"
    if _FLAKY_WORDS.search(source):
        return Verdict(
            "flaky",
            f"`{ctx.test}` is marked or described as flaky and failed {where}: its result depends on something "
            "besides the code under test.",
            "Find the varying input (time, randomness, ordering, shared state, network) and pin it: freeze time, "
            "seed the RNG, isolate state in fixtures. Re-run it alone with `pytest <id> -p no:randomly` to compare.",
        )
    hot = (names & _tainted(source)) or ({n for n in names if _NONDETERMINISTIC.search(test_line)})
    if hot:
        var = sorted(hot)[0]
        clock = bool(re.search(r"time\.|datetime|date\.today", source))
        kind = "the clock (a timing measurement)" if clock else "unseeded randomness"
        fix = (
            (
                "Don't assert on wall-clock durations in unit tests: inject or mock the clock, or move the check to "
                "a benchmark with a generous bound."
            )
            if clock
            else (
                "Make the randomness deterministic: pass a seeded generator (`random.Random(1234)`) or "
                "monkeypatch the choice, and assert properties that hold for every outcome."
            )
        )
        return Verdict(
            "flaky",
            f"`{ctx.test}` asserts on `{var}`, which comes from {kind}, so it passes or fails from run to run {where}.",
            fix,
        )
    shared = re.findall(r"\b([A-Z][A-Z0-9_]{2,}|_[a-z]\w*cache\w*)\b", test_line)
    assigned = set(re.findall(r"^\s*([A-Za-z_]\w*)\s*[:=]", textwrap.dedent(source), re.M))
    expects_initial = cmp is not None and (
        cmp.right in _EMPTY_EXPECTED or (cmp.op == "truthy" and test_line.strip().startswith("assert not"))
    )
    module_state = [n for n in shared if n not in assigned]
    if module_state and expects_initial:
        name = module_state[0]
        return Verdict(
            "flaky",
            f"`{ctx.test}` expects `{name}` to be in its initial state but found {cmp.left_value if cmp else 'data'} "
            f"{where}: `{name}` is module-level state that another test (or an import) already changed, so the "
            "result depends on test order.",
            f"Reset `{name}` around each test (an autouse fixture that clears it, or `monkeypatch.setattr` with a "
            f"fresh copy); confirm by running the test alone: `pytest {ctx.failure.test_id}`.",
        )
    return None


def _mock(ctx: Context) -> Verdict | None:
    text = "\n".join(ctx.parsed.errors)
    if not re.search(
        r"expected call not found|Expected '[\w.]+' to (be called|have been called)|"
        r"Calls not found|expected await not found|call_count",
        text,
    ):
        return None
    expected = re.search(r"Expected: (?P<v>.+)", text)
    actual = re.search(r"Actual: (?P<v>.+)", text)
    frame = ctx.test_frame
    detail = (
        f": expected {expected.group('v')}, actual {actual.group('v')}" if expected and actual else f": {ctx.message}"
    )
    return Verdict(
        "mock-call-mismatch",
        f"`{ctx.test}`'s mock was not called as asserted{detail} at {ctx.at(frame)}{ctx.line_of(frame)}.",
        "Compare the arguments the code really passes with the ones asserted: fix the code if it passes the "
        "wrong values, or update the assertion if the new call is intended (`mock.call_args_list` shows every call).",
    )


def _assert_message(ctx: Context) -> str:
    """The message the test attached to its assert (`assert x, "why"`), as a sentence, or ""."""
    first = ctx.parsed.errors[0].strip() if ctx.parsed.errors else ""
    m = re.match(r"AssertionError: (?P<msg>.+)$", first)
    if m and not m.group("msg").startswith("assert ") and len(ctx.parsed.errors) > 1:
        return f" The test's message: {m.group('msg')!r}."
    return ""


def explain_assertion(ctx: Context) -> Verdict:
    """assertion-mismatch / float-comparison / mock-call-mismatch / flaky / did-not-raise."""
    if m := re.search(r"DID NOT RAISE (?:<class ')?(?P<exc>[\w.]+)", ctx.message + " " + " ".join(ctx.parsed.errors)):
        exc = m.group("exc")
        frame = ctx.test_frame
        return Verdict(
            "did-not-raise",
            f"`{ctx.test}` expected {exc} inside `pytest.raises` at {ctx.at(frame)}, but the code in the block "
            "finished without raising.",
            f"Check that the input in the `with pytest.raises({exc.rsplit('.', 1)[-1]}):` block is really invalid "
            "for the code, and that the code validates it (raises) instead of accepting it.",
        )
    if (verdict := _mock(ctx)) is not None:
        return verdict
    cmp = _compare(ctx)
    if (verdict := _flaky(ctx, cmp)) is not None:
        return verdict
    frame = ctx.test_frame
    where = f"{ctx.at(frame)}"
    wheres = ctx.parsed.wheres()
    if cmp is None:
        detail = ctx.message or (ctx.parsed.errors[0] if ctx.parsed.errors else "")
        return Verdict(
            "assertion-mismatch",
            f"`{ctx.test}` failed an assertion at {where}{ctx.line_of(frame)}: {detail}.",
            "Compare the asserted condition with what the code returns at that point and fix whichever is wrong.",
        )
    produced = dict(wheres)
    if _is_float_mismatch(cmp):
        return Verdict(
            "float-comparison",
            f"`{ctx.test}` compares floats exactly: {quote(cmp.left)} is {cmp.left_value}, not {cmp.right_value}, "
            f"because binary floating point cannot represent the decimals exactly ({where}).",
            f"Compare with a tolerance: `assert {cmp.left} == pytest.approx({cmp.right})` (or math.isclose); use "
            "decimal.Decimal if the values are money.",
        )
    source = produced.get(cmp.left_value)
    if not source and re.fullmatch(r"[A-Za-z_]\w*", cmp.left):
        source = _assigned_from(ctx.failure.test_source, cmp.left) or None
    if source and _literal(source) is not None:
        source = None  # `status = 404` in the test: the value is the test's own, no call produced it
    origin = f" (from {quote(source)})" if source and source != cmp.left else ""
    said = _assert_message(ctx)
    if cmp.op in {"in", "not in"}:
        item = cmp.left_value or cmp.left
        return Verdict(
            "assertion-mismatch",
            f"`{ctx.test}` expected {item} {cmp.op} {quote(cmp.right)}, but {quote(cmp.right)} is "
            f"{cmp.right_value or 'something else'} at {where}.{said}",
            f"Check how {quote(cmp.right)} is built: if {item} should {'be' if cmp.op == 'in' else 'not be'} in "
            "it, fix that code; otherwise fix the test's expectation.",
        )
    if cmp.op in {"is not", "!="} and cmp.right == "None":
        return Verdict(
            "assertion-mismatch",
            f"`{ctx.test}` expects {quote(cmp.left)} to return a value, but it returned None{origin} at {where}.",
            f"Check why {quote(source or cmp.left)} finds or returns nothing for this input (a lookup miss, a "
            "missing `return`), and fix that code or the test's input.",
        )
    if cmp.op == "truthy":
        return Verdict(
            "assertion-mismatch",
            f"`{ctx.test}` asserts {quote(cmp.left)}, but it was {cmp.left_value or 'false'}{origin} at {where}.",
            f"Check why {quote(source or cmp.left)} is false for this input: fix the code if the test states the "
            "intended behaviour, otherwise fix the test's expectation.",
        )
    difference = (_difference(cmp.left_value, cmp.right_value, ctx) if cmp.left_value else "") + said
    got = f" {cmp.left_value}" if cmp.left_value else " something else"
    return Verdict(
        "assertion-mismatch",
        f"`{ctx.test}` expected {quote(cmp.left)} {cmp.op} {cmp.right_value or cmp.right}, but {quote(cmp.left)} was"
        f"{got}{origin} at {where}.{difference}",
        f"Find where {quote(source or cmp.left)} computes{got} and fix that code: the test's {cmp.right} is the "
        "specification unless the behaviour was changed on purpose.",
    )
