"""The `code_review` analyzer: ruff with a curated set of bug-finding rules, plus the checks in `checks.py`.

ruff runs as a subprocess per changed Python file (`--stdin-filename path -`, ~5 ms each, a few files in
parallel) with `--isolated`, so a project's own ruff config cannot switch the curated rules off or on. When
no ruff binary is found the rest still runs and one notice says what was skipped.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..findings import Finding, Severity
from . import checks
from .comments import commented_out_code, comments, todo_without_owner
from .common import Analysis, Target, enclosing_functions, make_finding
from .leftovers import debug_leftovers

__all__ = ["RUFF_IGNORE", "RUFF_SELECT", "CodeReviewAnalyzer", "find_ruff"]

NAME = "code_review"

# Bugs, not style: pyflakes, bugbear, pylint errors and warnings, a few RUF/PIE/ASYNC rules. Unused imports and
# variables, f-strings without placeholders and star imports (F401, F841, F541, F403, F405) are style: on a
# large tree they were nine in ten findings and hid the rest. A bare except that re-raises is dropped; one that
# turns every error (even KeyboardInterrupt) into a value hides bugs and stays (E722). Undefined names (F821),
# redefinitions that lose a value (F811), `is` with a literal (F632) and the pylint errors stay.
# BLE001 (any `except Exception`) is left out: on this project's own code it was 23 of 41 findings, nearly all
# deliberate fail-open handlers; the handler that hides errors (`except Exception: pass`) is swallowed-exception.
RUFF_SELECT = (
    "F",
    "B",
    "E722",
    "PLE",
    "PLW",
    "PLR1722",
    "RUF006",
    "RUF012",
    "RUF017",
    "RUF018",
    "RUF024",
    "PIE794",
    "PIE796",
    "ASYNC",
)
# Style-ish or noisy members of the selected families (B008 fires on FastAPI's Depends(), B904 is taste; B018,
# a "useless" expression, was deliberate in all 16 cases in requests 2.32.3: a property read for its effect,
# `resp.content  # consume socket`, or a test that an attribute exists).
RUFF_IGNORE = (
    "F401",
    "F403",
    "F405",
    "F541",
    "F841",
    "B007",
    "B008",
    "B009",
    "B010",
    "B018",
    "B028",
    "B904",
    "B905",
    "ASYNC109",  # an async function taking `timeout`: an API style (trio's cancel scopes), httpx's 9 findings
    "PLW0108",  # "lambda may be unnecessary": style, and wrong where the lambda defers a name (marshmallow)
    "PLW0603",
    "PLW1510",
    "PLW1641",
    "PLW2901",
)

_HIGH = {"F821", "F822", "F823", "F632", "B012", "PLE"}
# A bare `raise` outside an except block is valid in a function called only from one (flask's
# handle_user_exception re-raises that way): worth reading, not worth refusing a commit over.
_NOT_HIGH = {"PLE0704"}
_LOW = {"F401", "F403", "F405", "F541", "F841", "F811", "PLR1722", "PLW"}
_SUGGESTIONS = {
    "F401": "Remove the import, or re-export it explicitly in __all__.",
    "F841": "Remove the assignment, or use the value.",
    "F821": "Define or import the name; check for a typo.",
    "B006": "Default to None and create the value inside the function.",
    "B023": "Bind the loop variable as a default argument (lambda x=x: ...) or use functools.partial.",
    "E722": "Catch the specific exceptions you expect (a bare except also catches KeyboardInterrupt).",
    "RUF012": "Annotate it with typing.ClassVar, or create it per instance in __init__.",
    "B017": "Assert the specific exception type (and match= its message).",
}
_SYNTAX_CODES = {"invalid-syntax", "E999"}
_SAME_AS_SWALLOWED = {"ruff/E722", "ruff/S110"}  # our swallowed-exception says it better


def find_ruff() -> list[str] | None:
    """The command that runs ruff: this interpreter's scripts dir, then PATH, then the `ruff` package."""
    exe = "ruff.exe" if os.name == "nt" else "ruff"
    candidate = Path(sysconfig.get_path("scripts"), exe)
    if candidate.is_file():
        return [str(candidate)]
    on_path = shutil.which("ruff")
    if on_path:
        return [on_path]
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    try:
        return [str(find_ruff_bin())]
    except FileNotFoundError:
        return None


def _severity(code: str) -> Severity:
    if code in _SYNTAX_CODES or ((code in _HIGH or code[:3] in _HIGH) and code not in _NOT_HIGH):
        return Severity.HIGH
    if code in _LOW or code[:3] in _LOW:
        return Severity.LOW
    return Severity.MEDIUM


class CodeReviewAnalyzer:
    """ruff (curated rules) + our own checks, on changed lines only."""

    name = NAME

    def __init__(self, ruff: Sequence[str] | bool | None = True, timeout: float = 20.0) -> None:
        """`ruff`: True finds the binary, a command uses it, False/None skips ruff (the checks still run)."""
        self._ruff: list[str] | None = find_ruff() if ruff is True else list(ruff) if ruff else None
        self._ruff_wanted = ruff is not False and ruff is not None
        self._timeout = timeout

    def review(self, targets: Sequence[Target]) -> list[Finding]:
        return self.analyze(targets).findings

    def analyze(self, targets: Sequence[Target]) -> Analysis:
        result = Analysis()
        targets = [t for t in targets if t.changed_lines]
        python = [t for t in targets if t.language == "python"]
        ruff_ran: set[str] = set()
        if python and self._ruff_wanted:
            if self._ruff is None:
                result.notices.append("code_review: ruff not found (pip install ruff); lint checks skipped")
            else:
                self._run_ruff(python, result, ruff_ran)
        for target in targets:
            result.findings.extend(self._checks(target, mutable_defaults=target.path not in ruff_ran))
        conflicted = {f.path for f in result.findings if f.rule == "conflict-marker"}
        swallowed = {(f.path, f.line) for f in result.findings if f.rule == "swallowed-exception"}
        result.findings = [
            f
            for f in result.findings
            if not (f.path in conflicted and f.rule == "ruff/syntax-error")
            and not ((f.path, f.line) in swallowed and f.rule in _SAME_AS_SWALLOWED)
        ]
        return result

    def _checks(self, target: Target, *, mutable_defaults: bool) -> list[Finding]:
        found: list[Finding] = list(checks.conflict_markers(target))
        found += checks.long_lines(target)
        tree: ast.Module | None = None
        if target.language == "python":
            try:
                tree = ast.parse(target.text)
            except (SyntaxError, ValueError, RecursionError):  # RecursionError: nested too deep for the parser
                tree = None
        found += debug_leftovers(target, tree)
        comment_lines = comments(target)
        found += todo_without_owner(target, comment_lines)
        found += commented_out_code(target, comment_lines)
        if tree is not None:
            found += checks.python_checks(target, tree, mutable_defaults=mutable_defaults)
        found += checks.swallowed_catch_js(target)
        return found

    # -- ruff ------------------------------------------------------------------------------------------
    def _run_ruff(self, targets: Sequence[Target], result: Analysis, ran: set[str]) -> None:
        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            outputs = list(pool.map(self._ruff_one, targets))
        for target, (diagnostics, error) in zip(targets, outputs, strict=True):
            if error:
                result.notices.append(f"code_review: ruff failed on {target.path}: {error}")
                continue
            ran.add(target.path)
            owners: dict[int, str] | None = None
            reraising: set[int] = set()
            for diag in diagnostics:
                if owners is None:
                    try:
                        tree = ast.parse(target.text)
                        owners, reraising = enclosing_functions(tree), _reraising_handlers(tree)
                    except (SyntaxError, ValueError, RecursionError):
                        owners = {}
                if diag.get("code") == "E722" and int((diag.get("location") or {}).get("row") or 0) in reraising:
                    continue  # `except: ...; raise` loses nothing: style, not a finding
                finding = _ruff_finding(target, diag, owners)
                if finding:
                    result.findings.append(finding)

    def _ruff_one(self, target: Target) -> tuple[list[dict[str, Any]], str]:
        assert self._ruff is not None  # checked by the caller
        command = [
            *self._ruff,
            "check",
            "--output-format",
            "json",
            "--no-cache",
            "--isolated",
            "--exit-zero",
            "--select",
            ",".join(RUFF_SELECT),
            "--ignore",
            ",".join(RUFF_IGNORE),
            "--stdin-filename",
            target.path,
            "-",
        ]
        try:
            proc = subprocess.run(
                command,
                input=target.text,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return [], f"{type(exc).__name__}: {exc}"
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            return [], last[:200]
        try:
            data = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            return [], "unreadable JSON output"
        return [d for d in data if isinstance(d, dict)], ""


_ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=")
_MUTATORS = "append|extend|insert|update|add|setdefault|pop|popitem|remove|clear|discard|sort|reverse"


def _mutated(target: Target, row: int) -> bool:
    """Whether the class attribute assigned on `row` is mutated anywhere in the file (`x.attr.append(...)`,
    `x.attr[k] = v`, `x.attr += ...`, `del x.attr[k]`), or its name cannot be read (then keep the finding).
    RUF012's bug is a mutable shared by every instance and changed through one; a class-level table that is
    only read is configuration (djangorestframework 3.15.2: 358 of 446 findings; Django `Meta.fields`,
    pygments token tables)."""
    m = _ASSIGNED.match(target.line(row))
    if m is None:
        return True
    name = re.escape(m.group(1))
    changed = re.compile(
        rf"\.{name}\s*(?:\.(?:{_MUTATORS})\s*\(|\[[^\]\n]*\]\s*[-+*/|&]?=(?!=)|[-+*/|&]=)|\bdel\s+[\w.]*\.{name}\["
    )
    return changed.search(target.text) is not None


def _ruff_finding(target: Target, diag: dict[str, Any], owners: dict[int, str]) -> Finding | None:
    code = str(diag.get("code") or "invalid-syntax")
    start = int((diag.get("location") or {}).get("row") or 1)
    if code == "RUF012" and not _mutated(target, start):
        return None
    end = int((diag.get("end_location") or {}).get("row") or start)
    message = str(diag.get("message") or code)
    fix = diag.get("fix") or {}
    suggestion = str(fix.get("message") or "") or _SUGGESTIONS.get(code, "")
    if not suggestion and diag.get("url"):
        suggestion = f"See {diag['url']}."
    name = str(diag.get("name") or code)
    owner = owners.get(start)
    inside = f" in `{owner}`" if owner else ""
    rule = "ruff/syntax-error" if code in _SYNTAX_CODES else f"ruff/{code}"
    return make_finding(
        target,
        start,
        end_line=end,
        rule=rule,
        title=message,
        severity=_severity(code),
        template=NAME,
        message=f"{message}{inside} ({target.path}:{start}; ruff {code} {name}).",
        suggestion=suggestion,
    )


def _reraising_handlers(tree: ast.Module) -> set[int]:
    """Lines of bare `except:` handlers that re-raise what they caught."""
    return {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler)
        and node.type is None
        and any(isinstance(n, ast.Raise) and n.exc is None for n in ast.walk(node))
    }
