"""Secret detection and redaction: every context leaving the machine goes through `redact`.

Contract:
- `find_secrets(text)` returns full, merged, non-overlapping spans sorted by position. A span covers the
  whole secret: the whole token (widened to its alphabet when a rule matched only part of it), the
  whole PEM block (BEGIN to END, every line), the whole userinfo of a URL, the whole three-part JWT.
- `redact(text)` replaces each span by `[REDACTED:<kind>]` and keeps the number of lines: a span that
  covers n newlines is followed by n newlines, so line numbers after it stay valid.
- Any failure inside the scan raises `SecretScanError` ("secret scan failed: …; nothing was sent"):
  callers fail closed and never send unscanned text.
- `REDACTION_POLICY_VERSION` goes into cache keys: bump it whenever a rule changes what is redacted
  (tests/test_redact.py pins a hash of the rules to it).

The rules are our own, gitleaks-style (vendor prefixes with a literal prefilter, plus keyword
assignments, URL userinfo, PEM blocks and an entropy rule for quoted values). detect-secrets is NOT
used here, only as a cross-check in tests/test_redact.py, because measured on this project's reference
machine it costs more than the whole cache-hit budget (PERFORMANCE.md §10: <= 60 ms per hook run):
`import detect_secrets.core.scan` takes ~130 ms and loading its plugins another ~150 ms, while this
module imports in ~2 ms and scans 1k diff lines in a few ms. It also drops every finding for a path not
on disk and reports partial spans (RELIABILITY.md §0.1-0.3), and it misses formats we catch
(`github_pat_`, `sk_test_`, URL credentials with unusual schemes, unquoted `.env` values).

Stdlib only: redaction runs before the cache key is computed, i.e. on the cache-hit path.
"""

from __future__ import annotations

import math
import os
import re
import string
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from .errors import SecretScanError

__all__ = [
    "REDACTION_POLICY_VERSION",
    "SecretMatch",
    "find_secrets",
    "is_sensitive_path",
    "is_test_path",
    "redact",
    "redact_env_values",
    "reportable",
]

from .policy import REDACTION_POLICY_VERSION
from .sensitive import is_sensitive_path  # re-exported: where callers look for it

# Kinds found by heuristics (a secret-looking name, entropy, URL userinfo) rather than a vendor format.
# They are always redacted before sending; in a test file they are usually fixtures, so they are not
# reported as findings there. A vendor token in a test is still real and still reported.
HEURISTIC_KINDS = frozenset({"secret-assignment", "high-entropy-string", "url-credentials"})
_TEST_FILE = re.compile(r"(^test_.*\.py$)|(_test\.py$)|(^conftest\.py$)|(\.(test|spec)\.[jt]sx?$)")


def is_test_path(path: str) -> bool:
    """True for test modules and anything under a tests/ (or test/) folder."""
    p = PurePosixPath(path)
    return bool(_TEST_FILE.search(p.name)) or any(part in {"tests", "test", "__tests__"} for part in p.parts[:-1])


def reportable(kind: str, path: str) -> bool:
    """Whether a secret of `kind` found in `path` is a finding (redaction does not depend on this)."""
    return not (kind in HEURISTIC_KINDS and is_test_path(path))


@dataclass(frozen=True)
class SecretMatch:
    """One secret: `text[start:end]`, of `kind` (a rule id), starting on 1-based `line`."""

    kind: str
    start: int
    end: int
    line: int


Span = tuple[int, int]
# (text, lower) -> spans; `lower` is `text` lower-cased with the same indices. Case-insensitive rules
# scan `lower` with case-sensitive patterns: re.IGNORECASE is ~7x slower on alternations.
Finder = Callable[[str, str], Iterator[Span]]


@dataclass(frozen=True)
class _Rule:
    kind: str
    find: Finder
    keywords: tuple[str, ...] = ()  # the rule runs only if one of these occurs in the text
    fold: bool = False  # the keywords (and the rule's pattern) are matched against the lower-cased text


# ------------------------------------------------------------------------------------------ helpers
_TOKEN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_B64 = _TOKEN | frozenset("+/=")
_JWT = _TOKEN | frozenset(".=")


def _widen(text: str, start: int, end: int, alphabet: frozenset[str]) -> Span:
    """Grow a span to the boundaries of the token it sits in, so no tail of the secret survives."""
    while start > 0 and text[start - 1] in alphabet:
        start -= 1
    n = len(text)
    while end < n and text[end] in alphabet:
        end += 1
    return start, end


def _regex(
    pattern: str,
    *,
    group: int = 0,
    widen: frozenset[str] | None = _TOKEN,
    fold: bool = False,
    check: Callable[[str], bool] | None = None,
    bounded: bool = False,
) -> Finder:
    """A rule from a regex. `fold`: the (lower-case) pattern is matched against the lower-cased text.
    `bounded`: the match must start a token (checked here, not with a leading lookbehind, which would
    defeat re's literal-prefix scan: 0.5 ms instead of 0.02 ms per 60 kB). `check` sees the original."""

    def find(text: str, lower: str) -> Iterator[Span]:
        # compiled on first use (re caches it): most rules never pass their keyword prefilter
        for m in re.compile(pattern).finditer(lower if fold else text):
            if bounded and m.start() > 0 and text[m.start() - 1] in _TOKEN:
                continue
            start, end = m.span(group)
            if start < end and (check is None or check(text[start:end])):
                yield _widen(text, start, end, widen) if widen else (start, end)

    return find


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


def _is_template(value: str) -> bool:
    """A format string made only of fields: '%s:%s', '{user}:{password}', '${USER}:${PASS}'."""
    if "%" not in value and "{" not in value:
        return False
    return not any(c.isalnum() for c in _FORMAT.sub("", value))


def _looks_secret(value: str, *, strong: bool) -> bool:
    """Is this literal, assigned to a secret-named variable, a real secret (not code or a placeholder)?"""
    if not value or _PLACEHOLDER.fullmatch(value) or "{{" in value or value.startswith("[REDACTED:"):
        return False
    if _is_template(value):
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


def _assignments(text: str, lower: str) -> Iterator[Span]:
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
        if _looks_secret(value, strong=strong):
            yield m.span(group)


# A quoted token, or a value after = or : (not starting with "/": `https://host/path` is no value).
_ENTROPY = re.compile(
    r"(?:[\"'`]([A-Za-z0-9+/_-]{20,}={0,3})|[=:][ \t]*([A-Za-z0-9+_-][A-Za-z0-9+/_-]{19,}={0,3}))"
    r"(?![A-Za-z0-9+/_=-])"
)


def _high_entropy(text: str, lower: str) -> Iterator[Span]:
    for m in _ENTROPY.finditer(text):
        group = 1 if m.group(1) is not None else 2
        if _looks_random(m.group(group)):
            yield m.span(group)


_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{16,}")


def _pem(text: str, lower: str) -> Iterator[Span]:
    """The whole block, BEGIN to END; cut off (a hunk ends inside it), the header and every body line."""
    pos = 0
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = _PEM_END.search(text, begin.end())
        if end is not None:
            stop = end.end()
        else:
            stop = text.find("\n", begin.end())
            while stop != -1:
                nxt = text.find("\n", stop + 1)
                line_end = len(text) if nxt == -1 else nxt
                if not _PEM_BODY.search(text, stop + 1, line_end):
                    break
                stop = nxt
            if stop == -1:
                stop = len(text)
        yield begin.start(), stop
        pos = stop


# A URL's userinfo (user:password@): the whole userinfo, up to the last @ before the host.
_URL_USERINFO = re.compile(r"://([^\s/@:'\"`\[\]]*:[^\s/'\"`]+)@")


_TELEGRAM = re.compile(r":AA[A-Za-z0-9_-]{33}")


def _telegram(text: str, lower: str) -> Iterator[Span]:
    """<8-10 digit bot id>:AA<33 chars>, found from its literal middle (a leading \\d{8,10} is slow)."""
    for m in _TELEGRAM.finditer(text):
        start = m.start()
        while start > 0 and text[start - 1].isdigit() and m.start() - start < 11:
            start -= 1
        if 8 <= m.start() - start <= 10 and not (start > 0 and text[start - 1].isdigit()):
            yield _widen(text, start, m.end(), _TOKEN)


def _url_userinfo(text: str, lower: str) -> Iterator[Span]:
    for m in _URL_USERINFO.finditer(text):
        if not _is_template(m.group(1)):
            yield m.span(1)


_RULES: tuple[_Rule, ...] = (
    _Rule("private-key", _pem, ("PRIVATE KEY",)),
    _Rule("anthropic-api-key", _regex(r"sk-ant-[a-z]{2,10}\d{0,3}-[A-Za-z0-9_-]{20,}", bounded=True), ("sk-ant-",)),
    _Rule("openai-api-key", _regex(r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}", bounded=True), ("sk-",)),
    _Rule("openai-api-key", _regex(r"sk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{10,}", bounded=True), ("T3BlbkFJ",)),
    _Rule(
        "openai-api-key", _regex(r"sk-(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{32,}", bounded=True), ("sk-",)
    ),
    _Rule(
        "aws-access-key-id",
        _regex(r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", bounded=True),
        ("AKIA", "ASIA", "A3T", "ABIA", "ACCA"),
    ),
    _Rule(
        "aws-secret-access-key",
        _regex(
            r"aws.{0,25}?(?:secret|key|pwd|pw|password|pass|token).{0,25}?[:=\s\"']([a-z0-9/+]{40})(?![a-z0-9/+])",
            group=1,
            widen=_B64,
            fold=True,
        ),
        ("aws",),
        fold=True,
    ),
    _Rule("github-token", _regex(r"gh[pousr]_[A-Za-z0-9]{30,255}", bounded=True), ("gh",)),
    _Rule("github-fine-grained-pat", _regex(r"github_pat_[A-Za-z0-9_]{22,255}", bounded=True), ("github_pat_",)),
    _Rule(
        "gitlab-token",
        _regex(
            r"(?:glpat|gldt|glrt|glptt|glcbt|glsoat|glffct|gloas|glimt|glagent|glft|glwt)-[A-Za-z0-9_.-]{20,}"
            r"|GR1348941[A-Za-z0-9_-]{20,}",
            bounded=True,
        ),
        ("gl", "GR1348941"),
    ),
    _Rule(
        "slack-token",
        _regex(r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}", bounded=True),
        ("xox", "xapp-"),
    ),
    _Rule(
        "slack-webhook",
        _regex(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_+/-]{20,}", widen=None),
        ("hooks.slack.com",),
    ),
    _Rule(
        "discord-webhook", _regex(r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}", widen=None), ("discord",)
    ),
    _Rule(
        "stripe-key",
        _regex(r"[srp]k_(?:live|test|prod)_[A-Za-z0-9]{10,}", bounded=True),
        ("_live_", "_test_", "_prod_"),
    ),
    _Rule("stripe-key", _regex(r"whsec_[A-Za-z0-9]{24,}", bounded=True), ("whsec_",)),
    _Rule("google-api-key", _regex(r"AIza[A-Za-z0-9_-]{35}", bounded=True), ("AIza",)),
    _Rule(
        "gcp-oauth-secret",
        _regex(r"GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,}", bounded=True),
        ("GOCSPX-", "ya29."),
    ),
    _Rule("npm-token", _regex(r"npm_[A-Za-z0-9]{36}", bounded=True), ("npm_",)),
    _Rule("npm-token", _regex(r":_authToken=([^\s'\"]{8,})", group=1, widen=None), (":_authToken",)),
    _Rule("pypi-token", _regex(r"pypi-Ag[A-Za-z0-9_-]{50,}", bounded=True), ("pypi-Ag",)),
    _Rule("huggingface-token", _regex(r"(?:hf_|api_org_)[A-Za-z0-9]{30,}", bounded=True), ("hf_", "api_org_")),
    _Rule(
        "sendgrid-api-key",
        _regex(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}", widen=_JWT, bounded=True),
        ("SG.",),
    ),
    _Rule("twilio-api-key", _regex(r"SK[0-9a-fA-F]{32}", bounded=True), ("SK",)),
    _Rule(
        "discord-bot-token",
        _regex(r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}", widen=_JWT, bounded=True),
        (),
    ),
    _Rule("telegram-bot-token", _telegram, (":AA",)),
    _Rule(
        "azure-storage-key",
        _regex(r"(?:AccountKey|SharedAccessKey|sig)=([A-Za-z0-9+/%]{40,}={0,2})", group=1, widen=_B64),
        ("AccountKey=", "SharedAccessKey=", "sig="),
    ),
    _Rule(
        "jwt", _regex(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", widen=_JWT, bounded=True), ("eyJ",)
    ),
    _Rule(
        "other-vendor-token",
        _regex(
            r"(?:shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|do[por]_v1_[a-f0-9]{64}|dapi[a-f0-9]{32}"
            r"|hvs\.[A-Za-z0-9_-]{24,}|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}"
            r"|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|gsk_[A-Za-z0-9]{48,}|r8_[A-Za-z0-9]{37}"
            r"|xai-[A-Za-z0-9]{70,}|pplx-[A-Za-z0-9]{40,}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}"
            r"|AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}|dp\.pt\.[A-Za-z0-9]{40,})",
            widen=_JWT,
            bounded=True,
        ),
        (
            "shp",
            "_v1_",
            "dapi",
            "hvs.",
            "lin_api_",
            "PMAK-",
            "glsa_",
            "gsk_",
            "r8_",
            "xai-",
            "pplx-",
            "sq0",
            "AGE-SECRET-KEY-",
            "dp.pt.",
        ),
    ),
    _Rule("url-credentials", _url_userinfo, ("://",)),
    _Rule(
        "bearer-token",
        _regex(
            r"(?:bearer|basic|token)[ \t]+([a-z0-9._~+/-]{16,}=*)",
            group=1,
            widen=_JWT,
            fold=True,
            bounded=True,
            check=lambda v: _looks_secret(v, strong=False),
        ),
        ("bearer", "basic", "token"),
        fold=True,
    ),
    _Rule("secret-assignment", _assignments, ("pass", "pwd", "secret", "token", "credential", "key"), fold=True),
    _Rule("high-entropy-string", _high_entropy),
)


_PLACEHOLDER_TOKEN = re.compile(r"\[REDACTED:[a-z-]+\]")


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _scan(text: str) -> list[SecretMatch]:
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two ("İ"): keep the indices aligned
        lower = text.translate(_ASCII_LOWER)
    spans: list[tuple[int, int, int]] = []  # start, end, rule priority
    for prio, rule in enumerate(_RULES):
        if rule.keywords and not any(k in (lower if rule.fold else text) for k in rule.keywords):
            continue
        spans.extend((s, e, prio) for s, e in rule.find(text, lower))
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
    return [SecretMatch(_RULES[p].kind, s, e, bisect_right(newlines, s - 1) + 1) for s, e, p in merged]


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
