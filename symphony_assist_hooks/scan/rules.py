"""The rule table `redact.find_secrets` runs: one `Rule` per kind of secret, in priority order.

Each rule has a literal prefilter (its keywords): a rule whose keywords do not occur in the text is
skipped, and a regex rule (`_regex`) compiles its pattern only on first use. Vendor formats are
regexes widened to the whole token; PEM blocks and Telegram bot tokens have their own finders here;
the heuristic rules come from secretheuristics.py. Whatever changes what a rule redacts must bump
`REDACTION_POLICY_VERSION` (policy.py; tests/scan/test_redact.py pins a hash of these rules). Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .heuristics import EXAMPLE_PASSWORDS, assignments, high_entropy, is_template, looks_secret, url_userinfo
from .heuristics import SECRET_NAME as _SECRET_NAME
from .heuristics import SECRET_TAIL as _SECRET_TAIL

__all__ = ["RULES", "Finder", "Rule", "Span"]

Span = tuple[int, int]
# (text, lower) -> spans; `lower` is `text` lower-cased with the same indices. Case-insensitive rules
# scan `lower` with case-sensitive patterns: re.IGNORECASE is ~7x slower on alternations.
Finder = Callable[[str, str], Iterator[Span]]


@dataclass(frozen=True)
class Rule:
    """One kind of secret (`kind`, a rule id) and how to find it."""

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


# ------------------------------------------------------------------------------------------ finders
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


_TELEGRAM = re.compile(r":AA[A-Za-z0-9_-]{33}")


def _telegram(text: str, lower: str) -> Iterator[Span]:
    """<8-10 digit bot id>:AA<33 chars>, found from its literal middle (a leading \\d{8,10} is slow)."""
    for m in _TELEGRAM.finditer(text):
        start = m.start()
        while start > 0 and text[start - 1].isdigit() and m.start() - start < 11:
            start -= 1
        if 8 <= m.start() - start <= 10 and not (start > 0 and text[start - 1].isdigit()):
            yield _widen(text, start, m.end(), _TOKEN)


# Credentials on a command line or in SQL: curl's -u/--user, the -p option of the mysql clients, and
# the quoted value after IDENTIFIED BY or PASSWORD in SQL.
_CLI_USER = re.compile(r"-(?:u|-user|-proxy-user)(?:[ \t]+|=)?([\"']?)([^\s\"':]*:[^\s\"']+)\1")
_CLI_PASSWORD = re.compile(
    r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlpump|mariadb|mariadb-dump)\b"
    r"[^\n]*?[ \t]-p(?:\"([^\"\n]+)\"|'([^'\n]+)'|([^\s\"']+))"
)
# `sshpass -p '…'` (its -p takes the next word), `ConvertTo-SecureString "…" -AsPlainText`
_CLI_NEXT_WORD = re.compile(
    r"(?:\bsshpass\b[^\n]*?[ \t]-p|\bconvertto-securestring(?:[ \t]+-string)?)[ \t]+"
    r"(?:\"([^\"\n]+)\"|'([^'\n]+)'|([^\s\"'|;]+))"
)
# `<add key="SmtpPassword" value="…"/>`, `<property name="db.password" value="…"/>`
_XML_PAIR = re.compile(
    r"\b(?:key|name)[ \t]*=[ \t]*([\"'])([^\"'\n]{1,100})\1[ \t]+value[ \t]*=[ \t]*([\"'])([^\n]*?)\3"
)
# free text: `my password is X`, `login fails with password X` (`password = X` is an assignment)
_PROSE_PASSWORD = re.compile(
    r"(?<![a-z0-9_.-])(?:password|passwd|passphrase)(?:[ \t]+(?:is|was))?[ \t]+[(\"'`]?([^\s\"'`=:]\S{7,})"
)
_SQL_PASSWORD = re.compile(
    r"(?:identified[ \t]+(?:with[ \t]+[a-z0-9_]+[ \t]+)?by|(?<![a-z0-9_])password)[ \t]+(?:password[ \t]+)?"
    r"(?:'([^'\n]*)'|\"([^\"\n]*)\")"
)


def _cli_user(text: str, lower: str) -> Iterator[Span]:
    for m in _CLI_USER.finditer(text):
        if m.start() > 0 and text[m.start() - 1] not in " \t":
            continue  # an option starts a word
        password = m.group(2).partition(":")[2]
        if password.isdigit() or is_template(m.group(2)) or password.startswith("$"):
            continue
        if password.rstrip("`'\".,;:)").lower() not in EXAMPLE_PASSWORDS:  # `curl -u admin:password`: an example
            yield m.span(2)


def _cli_password(text: str, lower: str) -> Iterator[Span]:
    for m in _CLI_PASSWORD.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        if not m.group(group).startswith("$"):
            yield m.span(group)


def _cli_next_word(text: str, lower: str) -> Iterator[Span]:
    for m in _CLI_NEXT_WORD.finditer(lower):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        if looks_secret(text[m.start(group) : m.end(group)], strong=True):
            yield m.span(group)


def _xml_pair(text: str, lower: str) -> Iterator[Span]:
    for m in _XML_PAIR.finditer(lower):
        name = m.group(2)
        keyword = list(_SECRET_NAME.finditer(name))
        if keyword and _SECRET_TAIL.fullmatch(name, keyword[-1].end()):
            value = text[m.start(4) : m.end(4)]
            if looks_secret(value, strong=keyword[-1].group().startswith(("pass", "pwd"))):
                yield m.span(4)


def _prose_password(text: str, lower: str) -> Iterator[Span]:
    for m in _PROSE_PASSWORD.finditer(lower):
        value = text[m.start(1) : m.end(1)]
        if looks_secret(value, strong=False) and not value.startswith(("$", "[REDACTED:")):
            yield m.span(1)


def _sql_password(text: str, lower: str) -> Iterator[Span]:
    for m in _SQL_PASSWORD.finditer(lower):
        group = 1 if m.group(1) is not None else 2
        if looks_secret(text[m.start(group) : m.end(group)], strong=True):
            yield m.span(group)


# ------------------------------------------------------------------------------------------ rules
RULES: tuple[Rule, ...] = (
    Rule("private-key", _pem, ("PRIVATE KEY",)),
    Rule("anthropic-api-key", _regex(r"sk-ant-[a-z]{2,10}\d{0,3}-[A-Za-z0-9_-]{20,}", bounded=True), ("sk-ant-",)),
    Rule("openai-api-key", _regex(r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}", bounded=True), ("sk-",)),
    Rule("openai-api-key", _regex(r"sk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{10,}", bounded=True), ("T3BlbkFJ",)),
    Rule(
        "openai-api-key", _regex(r"sk-(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{32,}", bounded=True), ("sk-",)
    ),
    Rule(
        "aws-access-key-id",
        _regex(r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", bounded=True),
        ("AKIA", "ASIA", "A3T", "ABIA", "ACCA"),
    ),
    Rule(
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
    Rule("github-token", _regex(r"gh[pousr]_[A-Za-z0-9]{30,255}", bounded=True), ("gh",)),
    Rule("github-fine-grained-pat", _regex(r"github_pat_[A-Za-z0-9_]{22,255}", bounded=True), ("github_pat_",)),
    Rule(
        "gitlab-token",
        _regex(
            r"(?:glpat|gldt|glrt|glptt|glcbt|glsoat|glffct|gloas|glimt|glagent|glft|glwt)-[A-Za-z0-9_.-]{20,}"
            r"|GR1348941[A-Za-z0-9_-]{20,}",
            bounded=True,
        ),
        ("gl", "GR1348941"),
    ),
    Rule(
        "slack-token",
        _regex(r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}", bounded=True),
        ("xox", "xapp-"),
    ),
    Rule(
        "slack-webhook",
        _regex(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_+/-]{20,}", widen=None),
        ("hooks.slack.com",),
    ),
    Rule(
        "discord-webhook", _regex(r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}", widen=None), ("discord",)
    ),
    Rule(
        "stripe-key",
        _regex(r"[srp]k_(?:live|test|prod)_[A-Za-z0-9]{10,}", bounded=True),
        ("_live_", "_test_", "_prod_"),
    ),
    Rule("stripe-key", _regex(r"whsec_[A-Za-z0-9]{24,}", bounded=True), ("whsec_",)),
    Rule("google-api-key", _regex(r"AIza[A-Za-z0-9_-]{35}", bounded=True), ("AIza",)),
    Rule(
        "gcp-oauth-secret",
        _regex(r"GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[A-Za-z0-9_-]{20,}", bounded=True),
        ("GOCSPX-", "ya29."),
    ),
    Rule("npm-token", _regex(r"npm_[A-Za-z0-9]{36}", bounded=True), ("npm_",)),
    Rule("npm-token", _regex(r":_authToken=([^\s'\"]{8,})", group=1, widen=None), (":_authToken",)),
    Rule("pypi-token", _regex(r"pypi-Ag[A-Za-z0-9_-]{50,}", bounded=True), ("pypi-Ag",)),
    Rule("huggingface-token", _regex(r"(?:hf_|api_org_)[A-Za-z0-9]{30,}", bounded=True), ("hf_", "api_org_")),
    Rule(
        "sendgrid-api-key",
        _regex(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}", widen=_JWT, bounded=True),
        ("SG.",),
    ),
    Rule("twilio-api-key", _regex(r"SK[0-9a-fA-F]{32}", bounded=True), ("SK",)),
    Rule(
        "discord-bot-token",
        _regex(r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}", widen=_JWT, bounded=True),
        (),
    ),
    Rule("telegram-bot-token", _telegram, (":AA",)),
    Rule(
        "azure-storage-key",
        _regex(r"(?:AccountKey|SharedAccessKey|sig)=([A-Za-z0-9+/%]{40,}={0,2})", group=1, widen=_B64),
        ("AccountKey=", "SharedAccessKey=", "sig="),
    ),
    Rule(
        "jwt", _regex(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", widen=_JWT, bounded=True), ("eyJ",)
    ),
    Rule(
        "other-vendor-token",
        _regex(
            r"(?:shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|do[por]_v1_[a-f0-9]{64}|dapi[a-f0-9]{32}"
            r"|hvs\.[A-Za-z0-9_-]{24,}|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}"
            r"|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|gsk_[A-Za-z0-9]{48,}|r8_[A-Za-z0-9]{37}"
            r"|xai-[A-Za-z0-9]{70,}|pplx-[A-Za-z0-9]{40,}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}"
            r"|AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}|dp\.pt\.[A-Za-z0-9]{40,})",
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
    Rule("url-credentials", url_userinfo, ("://",)),
    Rule(
        "bearer-token",
        _regex(
            r"(?:bearer|basic|token)[ \t]+([a-z0-9._~+/-]{16,}=*)",
            group=1,
            widen=_JWT,
            fold=True,
            bounded=True,
            check=lambda v: looks_secret(v, strong=False),
        ),
        ("bearer", "basic", "token"),
        fold=True,
    ),
    Rule("cli-credentials", _cli_user, ("-u", "--user", "--proxy-user")),
    Rule("cli-credentials", _cli_password, ("mysql", "mariadb")),
    Rule("cli-credentials", _cli_next_word, ("sshpass", "convertto-securestring"), fold=True),
    Rule("secret-assignment", _xml_pair, ("value",), fold=True),
    Rule("secret-assignment", _prose_password, ("passw", "passphrase"), fold=True),
    Rule("sql-password", _sql_password, ("identified", "password"), fold=True),
    Rule("secret-assignment", assignments, ("pass", "pwd", "secret", "token", "credential", "key"), fold=True),
    Rule("high-entropy-string", high_entropy),
)
