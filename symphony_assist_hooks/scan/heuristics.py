"""Secrets without a vendor format, and the value heuristics that find them.

A literal assigned to a secret-named variable, a random-looking quoted token, a URL's userinfo: the
three rules of `redact.HEURISTIC_KINDS` (redacted everywhere, reported outside tests only). Whether a
value is a real secret or code, a placeholder, a template or an identifier is decided by the checks
here (`looks_secret`, `is_template`), which the bearer-token rule in secretrules.py reuses.

Stdlib only; imported with `redact`, so its patterns compile when redact's do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

__all__ = ["assignments", "high_entropy", "is_template", "looks_secret", "url_userinfo"]


# ------------------------------------------------------------------------------------------ values
def _entropy(value: str) -> float:
    """Bits per character of `value` (0 for an empty string)."""
    if not value:
        return 0.0
    n = len(value)
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_HEXISH = re.compile(r"[0-9a-fA-F_-]+")
# Words, CONSTANTS and numbers in a token: identifiers are made of long ones, random tokens of many
# short ones (a random 20-character token has 2 or fewer runs of length <= 2 with p < 1 %, 32+: ~0).
_RUNS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


_SEPARATORS = re.compile(r"[-_./+]")
_PLAIN_SEGMENT = re.compile(r"(?:[a-z]+|[A-Z][a-z]*|[A-Z]+)[0-9]{0,4}|[0-9]+|[A-Za-z0-9]{1,3}|")


def _looks_random(value: str) -> bool:
    """A high-entropy token: not a word, an identifier, a path, a version or a hex digest."""
    token = value.rstrip("=")
    n = len(token)
    if n < 20 or _HEXISH.fullmatch(token):
        return False
    digit = upper = lower = False
    for c in token:
        digit = digit or c.isdigit()
        upper = upper or c.isupper()
        lower = lower or c.islower()
    if digit + upper + lower < 2:
        return False
    if sum(len(run) <= 2 for run in _RUNS.findall(token)) <= 2:  # camelCase, snake_case, paths, words
        return False
    segments = _SEPARATORS.split(token)
    if len(segments) >= 3 and all(_PLAIN_SEGMENT.fullmatch(seg) for seg in segments):
        return False  # gpt-4o-mini-2024-07-18, cpython-311-x86_64-linux-gnu
    if token.startswith(("sha256-", "sha384-", "sha512-")):
        return False  # a subresource-integrity digest
    return _entropy(token) >= min(4.2, math.log2(n) * 0.8)


_PLACEHOLDER = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^<>]*>|\*+|x+|X+|\.+|-+|_+")
_FORMAT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|\$?\{[^{}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def is_template(value: str) -> bool:
    """A format string made only of fields: '%s:%s', '{user}:{password}', '${USER}:${PASS}'."""
    if "%" not in value and "{" not in value:
        return False
    return not any(c.isalnum() for c in _FORMAT.sub("", value))


def looks_secret(value: str, *, strong: bool) -> bool:
    """Is this literal, assigned to a secret-named variable, a real secret (not code or a placeholder)?"""
    if not value or _PLACEHOLDER.fullmatch(value) or "{{" in value or value.startswith("[REDACTED:"):
        return False
    if is_template(value):
        return False
    if strong:  # NAME_PASSWORD = "...": any literal counts, short ones too
        return len(value) >= 4
    if len(value) < 8 or "://" in value or any(c.isspace() for c in value):
        return False
    if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return True
    return _looks_random(value)


# ------------------------------------------------------------------------------------------ rules
# Secret-looking names (FOO_API_KEY, db.password, "clientSecret", --token). The keyword must end the
# name (or be followed only by a harmless suffix): `token_url`, `password_prompt`, `secret_name` are
# not secrets, and their values are left to the entropy rule.
_CORE = re.compile(r"key|pass|pwd|secret|token|credential")  # on lower-cased text: a fast literal scan
_KEYWORD = re.compile(
    r"(?:api|access|secret|private|signing|encryption|master|account|client|session|app)[_.-]?key|apikey"
    r"|passw(?:or)?d|passphrase|pwd|(?<=[_.-])pass(?![a-z])|secret|token|credentials?"
)
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_TAIL_OK = re.compile(r"s?(?:[_.-]?(?:value|str|string|b64|base64|hex|raw|plain|text|bytes|id))?")
_ANNOTATION = re.compile(r"[\"']?[ \t]*:[ \t]*[A-Za-z_][A-Za-z0-9_.\[\], |]*?[ \t]*(?==[^=])")
_VALUE = re.compile(
    r"[\"']?[ \t]*(?::=|=>|==|!=|=|:)[ \t]*(?:"
    r'"(?P<dq>[^"\n]*)"|'
    r"'(?P<sq>[^'\n]*)'|"
    r"`(?P<bq>[^`\n]*)`|"
    r"(?P<bare>[^\s\"'`,;()\[\]{}<>&]+)(?P<after>[(\[]?))"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def assignments(text: str, lower: str) -> Iterator[tuple[int, int]]:
    n = len(text)
    done = -1  # end of the last name looked at: one verdict per name
    for core in _CORE.finditer(lower):
        if core.start() < done:
            continue
        name_start, name_end = core.start(), core.end()
        while name_start > 0 and text[name_start - 1] in _NAME_CHARS:
            name_start -= 1
        while name_end < n and text[name_end] in _NAME_CHARS:
            name_end += 1
        done = name_end
        name = lower[name_start:name_end]
        keywords = list(_KEYWORD.finditer(name))
        last = keywords[-1] if keywords else None  # the last keyword in the name decides (`token_secret`)
        if last is None or not _TAIL_OK.fullmatch(name, last.end()):
            continue  # `keyboard`, `compass`, `token_url`, `password_prompt`
        pos = name_end
        annotation = _ANNOTATION.match(text, pos)  # `password: str = "..."`
        if annotation:
            pos = annotation.end()
        m = _VALUE.match(text, pos)
        if m is None:
            continue
        strong = last.group().startswith(("pass", "pwd"))
        if m.group("bare") is not None:
            value = m.group("bare")
            if m.group("after") or (_IDENT.fullmatch(value) and not any(c.isdigit() for c in value)):
                continue  # a call, an index, a name: `password = get_password()`, `key=self.key`
            if _IDENT.fullmatch(value) and len(value) < 6:
                continue
            group = "bare"
        else:
            group = next(g for g in ("dq", "sq", "bq") if m.group(g) is not None)
            value = m.group(group)
        if looks_secret(value, strong=strong):
            yield m.span(group)


# A quoted token, or a value after = or : (not starting with "/": `https://host/path` is no value).
_ENTROPY = re.compile(
    r"(?:[\"'`]([A-Za-z0-9+/_-]{20,}={0,3})|[=:][ \t]*([A-Za-z0-9+_-][A-Za-z0-9+/_-]{19,}={0,3}))"
    r"(?![A-Za-z0-9+/_=-])"
)


def high_entropy(text: str, lower: str) -> Iterator[tuple[int, int]]:
    for m in _ENTROPY.finditer(text):
        group = 1 if m.group(1) is not None else 2
        if _looks_random(m.group(group)):
            yield m.span(group)


# A URL's userinfo (user:password@): the whole userinfo, up to the last @ before the host.
_URL_USERINFO = re.compile(r"://([^\s/@:'\"`\[\]]*:[^\s/'\"`]+)@")


def url_userinfo(text: str, lower: str) -> Iterator[tuple[int, int]]:
    for m in _URL_USERINFO.finditer(text):
        if not is_template(m.group(1)):
            yield m.span(1)
