"""Secret detection and redaction: every context leaving the machine goes through `redact`.

Contract:
- `find_secrets(text)` returns full, merged, non-overlapping spans sorted by position. A span covers the
  whole secret: the whole token (widened to its alphabet when a rule matched only part of it), the
  whole PEM block (BEGIN to END, every line), the whole userinfo of a URL, the whole three-part JWT.
- `redact(text)` replaces each span by `[REDACTED:<kind>]` and keeps the number of lines: a span that
  covers n newlines is followed by n newlines, so line numbers after it stay valid.
- Any failure inside the scan raises `SecretScanError` ("secret scan failed: …; nothing was sent"):
  callers fail closed and never send unscanned text.
- `REDACTION_POLICY_VERSION` (policy.py) goes into cache keys: bump it whenever a rule changes what is redacted
  (tests/scan/test_redact.py pins a hash of the rules to it).

The rules are our own, gitleaks-style (vendor prefixes with a literal prefilter, plus keyword
assignments, URL userinfo, PEM blocks and an entropy rule for quoted values): the table is in
secretrules.py, the value heuristics it shares in secretheuristics.py; this module runs the table,
merges the spans and replaces them. detect-secrets is NOT used here, only as a cross-check in
tests/scan/test_redact.py, because measured on this project's reference machine it costs more than the
whole cache-hit budget (docs/reference.md#performance-goals: <= 60 ms per hook run): `import detect_secrets.core.scan`
takes ~130 ms and loading its plugins another ~150 ms, while this module and its rules import in ~2 ms
and scan 1k diff lines in a few ms. It also drops every finding for a path not on disk and reports
partial spans (docs/reference.md#secrets), and it misses formats we catch (`github_pat_`, `sk_test_`,
URL credentials with unusual schemes, unquoted `.env` values).

Stdlib only: redaction runs before the cache key is computed, i.e. on the cache-hit path.
"""

from __future__ import annotations

import itertools
import os
import re
import string
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import SecretScanError
from . import rules as secretrules

__all__ = [
    "SecretMatch",
    "find_secrets",
    "is_test_path",
    "redact",
    "redact_env_values",
    "reportable",
]


# Kinds found by heuristics (a secret-looking name, entropy, URL userinfo, a random-looking word after
# Bearer/Basic) rather than a vendor format. They are always redacted before sending; in a test or a
# documentation file they are usually fixtures or examples (requests' tests check the Basic header they
# build), so they are not reported as findings there. A vendor token there is still real and still reported.
HEURISTIC_KINDS = frozenset(
    {"secret-assignment", "high-entropy-string", "url-credentials", "cli-credentials", "sql-password", "bearer-token"}
)
_TEST_FILE = re.compile(r"(^test_.*\.py$)|(_test\.py$)|(^conftest\.py$)|(\.(test|spec)\.[jt]sx?$)")


def is_test_path(path: str) -> bool:
    """True for test modules and anything under a tests/ (or test/) folder."""
    p = PurePosixPath(path)
    return bool(_TEST_FILE.search(p.name)) or any(part in {"tests", "test", "__tests__"} for part in p.parts[:-1])


_DOC_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".adoc"})  # not .txt: requirements files hold index URLs


def is_doc_path(path: str) -> bool:
    """True for prose documentation (README.md, docs/config.rst): its example values are placeholders."""
    return PurePosixPath(path).suffix.lower() in _DOC_SUFFIXES


def reportable(kind: str, path: str) -> bool:
    """Whether a secret of `kind` found in `path` is a finding (redaction does not depend on this): a
    pattern guess (keyword, entropy, URL credentials) in a test or a documentation file is an example far
    more often than a leak (flask's docs: every such finding an example `SECRET_KEY`); a vendor-format token
    is reported wherever it is."""
    return not (kind in HEURISTIC_KINDS and (is_test_path(path) or is_doc_path(path)))


@dataclass(frozen=True)
class SecretMatch:
    """One secret: `text[start:end]`, of `kind` (a rule id), starting on 1-based `line`."""

    kind: str
    start: int
    end: int
    line: int


_PLACEHOLDER_TOKEN = re.compile(r"\[REDACTED:[a-z-]+\]")


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# String literals joined by `+` or written side by side (Python's implicit concatenation), possibly
# over several lines: `'sk_live_abc' + 'def…'` is scanned as the one string it makes.
_LITERAL = re.compile(r"'((?:[^'\\\n]|\\.)*)'" r'|"((?:[^"\\\n]|\\.)*)"')
# between two literals of one chain: spaces, `+`, a line continuation, a new line (with its hunk prefix)
_GAP = r"(?:[ \t]|\\?\r?\n(?:[ \t]*\d{1,6}\+)?)*"
_JOIN = re.compile(_GAP + r"(?:\+" + _GAP + r")?[rRbBuUfF]{0,2}")
# `"".join(['xoxb-1', '234', …])`: the literals of a list or tuple joined by a join call
_JOIN_CALL = re.compile(r"\.join\(" + _GAP + r"[\[(]")
_LIST_SEP = re.compile(_GAP + r"," + _GAP + r"[rRbBuUfF]{0,2}")


def _rule_spans(text: str, lower: str) -> list[tuple[int, int, int]]:
    """(start, end, rule priority) of every rule's match in `text`."""
    rules = secretrules.RULES  # looked up per scan: tests swap the table
    spans: list[tuple[int, int, int]] = []
    for prio, rule in enumerate(rules):
        if rule.keywords and not any(k in (lower if rule.fold else text) for k in rule.keywords):
            continue
        spans.extend((s, e, prio) for s, e in rule.find(text, lower))
    return spans


def _lower(text: str) -> str:
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two ("İ"): keep the indices aligned
        lower = text.translate(_ASCII_LOWER)
    return lower


def _joined_spans(text: str) -> list[tuple[int, int, int]]:
    """The whole chain of literals, for each chain whose joined value holds a secret across two literals."""
    out: list[tuple[int, int, int]] = []
    if "'" not in text and '"' not in text:
        return out
    chain: list[re.Match[str]] = []
    listed = False  # the chain is the list of a join call: its literals are separated by commas
    for lit in [*_LITERAL.finditer(text), None]:
        if lit is not None and chain:
            sep = _LIST_SEP if listed else _JOIN
            if sep.fullmatch(text, chain[-1].end(), lit.start()):
                chain.append(lit)
                continue
        if len(chain) > 1:
            found = _chain_secret(text, chain)
            if found is not None:
                out.append((chain[0].start(), chain[-1].end(), found))
        chain = [lit] if lit is not None else []
        if lit is not None:
            call = _JOIN_CALL.search(text, max(0, lit.start() - 40), lit.start())
            listed = call is not None and not text[call.end() : lit.start()].strip(" \t\n\\+0123456789")
    return out


def _chain_secret(text: str, chain: list[re.Match[str]]) -> int | None:
    """The priority of a rule that finds a secret across two literals of `chain` once joined, read with
    the start of its line (`DB_PASSWORD = ` makes the value a secret), or None."""
    parts = [m.group(1) if m.group(1) is not None else m.group(2) for m in chain]
    head = text[text.rfind("\n", 0, chain[0].start()) + 1 : chain[0].start()]
    quote = text[chain[0].end() - 1]
    joined = f"{head}{quote}{''.join(parts)}{quote}"
    first = len(head) + 1
    bounds = [first + b for b in itertools.accumulate(len(part) for part in parts)][:-1]
    # only what the joining made: a match inside one literal was judged in place, with its context
    found = [p for s, e, p in _rule_spans(joined, _lower(joined)) if any(s < b < e for b in bounds)]
    return min(found) if found else None


def _scan(text: str) -> list[SecretMatch]:
    rules = secretrules.RULES
    spans = _rule_spans(text, _lower(text))
    spans += _joined_spans(text)
    if spans and "[REDACTED:" in text:  # already redacted text: a placeholder is not a secret
        placeholders = [m.span() for m in _PLACEHOLDER_TOKEN.finditer(text)]
        spans = [sp for sp in spans if not any(a <= sp[0] and sp[1] <= b for a, b in placeholders)]
    if not spans:
        return []
    spans.sort()
    merged: list[list[int]] = []
    for s, e, prio in spans:
        if merged and s <= merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], e)
            last[2] = min(last[2], prio)
        else:
            merged.append([s, e, prio])
    newlines = [i for i, ch in enumerate(text) if ch == "\n"] if "\n" in text else []
    return [SecretMatch(rules[p].kind, s, e, bisect_right(newlines, s - 1) + 1) for s, e, p in merged]


def find_secrets(text: str) -> list[SecretMatch]:
    """Every secret in `text`: full spans, merged, non-overlapping, sorted. Raises SecretScanError."""
    try:
        return _scan(text)
    except Exception as exc:  # fail closed: whatever broke, the caller must not send the text
        raise SecretScanError(f"secret scan failed: {type(exc).__name__}; nothing was sent") from exc


def redact(text: str) -> tuple[str, list[SecretMatch]]:
    """`text` with each secret replaced by `[REDACTED:<kind>]` (line count kept), and the matches."""
    matches = find_secrets(text)
    if not matches:
        return text, matches
    out: list[str] = []
    pos = 0
    for m in matches:
        out.append(text[pos : m.start])
        out.append(f"[REDACTED:{m.kind}]" + "\n" * text.count("\n", m.start, m.end))
        pos = m.end
    out.append(text[pos:])
    return "".join(out), matches


# ------------------------------------------------------------------------------------------ environment
_SECRET_ENV_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PWD|PASS(?![A-Z])|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE|DSN|_PAT$"
)
_NOT_SECRET_ENV = frozenset({"PWD", "OLDPWD"})


def redact_env_values(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the value of every secret-named environment variable (8+ chars) redacted.

    For tracebacks and test output: a failing test may print a key it read from the environment.
    """
    env = os.environ if environ is None else environ
    try:
        values = sorted(
            {
                v
                for k, v in env.items()
                if len(v) >= 8 and k.upper() not in _NOT_SECRET_ENV and _SECRET_ENV_NAME.search(k.upper())
            },
            key=len,
            reverse=True,
        )
        for value in values:
            if value in text:
                text = text.replace(value, "[REDACTED:env-value]")
    except Exception as exc:
        raise SecretScanError(f"secret scan failed: {type(exc).__name__}; nothing was sent") from exc
    return text
