"""Turn a verdict towards the code when the traceback points at the project's own code.

The plugin captures the prime suspects of a failure (`blame.function_suspect` records: the deepest project
frame below the test, or the project function called in a failing assertion, and the lines feeding the
failing expression, a line changed since HEAD first). When there is one, the code computed the wrong value
or raised: the verdict names that function, file and lines, and the fix is about that code, never about
changing the test or wrapping it in `pytest.raises` (the test did not expect the exception).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .context import Context, Verdict, quote

__all__ = ["blame_code", "suspect_line"]

_VALUE = {"assertion-mismatch", "float-comparison", "did-not-raise", "mock-call-mismatch"}


def suspect_line(suspect: Mapping[str, Any], line: int) -> str:
    """The source text of absolute line `line` in the suspect's function, or ""."""
    lines = str(suspect.get("source", "")).split("\n")
    index = line - int(suspect.get("first") or 1)
    return lines[index].strip() if 0 <= index < len(lines) else ""


def blame_code(ctx: Context, verdict: Verdict, suspects: Sequence[Mapping[str, Any]]) -> Verdict:
    prime = suspects[0]
    test = ctx.test.split("[", 1)[0]  # parameters are in the test id already
    path, func, line = str(prime.get("path", "")), str(prime.get("func", "")), int(prime.get("line") or 0)
    why = str(prime.get("why", ""))
    code = suspect_line(prime, line)
    others = [int(n) for n in prime.get("lines") or () if int(n) != line]
    feeding = ""
    if others:
        feeding = f"; also read line {others[0]} that feeds it"
        if len(others) > 1:
            feeding = f"; also read lines {', '.join(map(str, others))} that feed it"
    shown = f" {quote(code)}" if code else ""
    if why == "changed since HEAD":
        reason = "changed since the last commit"
    elif why == "returned the value the test checks":
        reason = f"`{func}` computed the value the assertion rejected"
    elif why == "ran without raising":
        reason = f"`{func}` ran without raising for this input"
    else:
        reason = f"the error was {why} in the project's code"
    more = ""
    if len(suspects) > 1:
        also = ", ".join(f"`{s.get('func', '')}` ({s.get('path', '')}:{s.get('line', '')})" for s in suspects[1:3])
        more = f" Next suspects: {also}."
    explanation = f"{verdict.explanation} Prime suspect: `{func}` at {path}:{line}{shown} ({reason}).{more}"
    if verdict.category == "did-not-raise":
        wanted = f"raise what `{test}` expects for this input."
    elif verdict.category in _VALUE:
        wanted = f"return what `{test}` expects for this input."
    else:
        wanted = "handle this input."
    fix = f"Fix the code, not the test: check `{func}` at {path}:{line}{shown}{feeding}, and make it {wanted}"
    return Verdict(verdict.category, explanation, fix, path, line)
