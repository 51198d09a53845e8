"""Secrets without a vendor format, and the value heuristics that find them.

A literal assigned to a secret-named variable, a random-looking quoted token, a URL's userinfo: the
rules of `redact.HEURISTIC_KINDS` (redacted everywhere, reported outside tests and docs only). Whether a
value is a real secret or code, a placeholder, a template or an identifier is decided by the checks
here (`looks_secret`, `is_template`), which the bearer-token rule in secretrules.py reuses.

Stdlib only; imported with `redact`, so its patterns compile when redact's do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

__all__ = [
    "EXAMPLE_PASSWORDS",
    "SECRET_NAME",
    "SECRET_TAIL",
    "assignments",
    "high_entropy",
    "is_template",
    "looks_secret",
    "url_userinfo",
]


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


_VOWELS = frozenset("aeiouyAEIOUY")


def _compound_words(token: str) -> bool:
    """Letters only, made of words (each of 2+ letters with a vowel) and short acronyms: an identifier such
    as `PyAssignmentToLoopOrWithParameter` (a PyCharm `noinspection` comment). A random 20-letter
    mixed-case token passes with p < 1 %, a 32-letter one with p < 0.1 %."""
    if not token.isalpha():
        return False
    for run in _RUNS.findall(token):
        if len(run) < 2 or (len(run) > 5 if run.isupper() else not _VOWELS.intersection(run)):
            return False
    return True


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
    if _compound_words(token):
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
SECRET_NAME, SECRET_TAIL = _KEYWORD, _TAIL_OK  # for the rules that find a secret-named key elsewhere
_ANNOTATION = re.compile(r"[\"']?[ \t]*:[ \t]*[A-Za-z_][A-Za-z0-9_.\[\], |]*?[ \t]*(?==[^=])")
_VALUE = re.compile(
    r"[\"']?[ \t]*(?::=|=>|==|!=|=|:)[ \t]*(?:"
    r'"(?P<dq>(?:[^"\\\n]|\\.)*)"|'
    r"'(?P<sq>(?:[^'\\\n]|\\.)*)'|"
    r"`(?P<bq>[^`\n]*)`|"
    r"(?P<bare>[^\s\"'`,;()\[\]{}<>&]*)(?P<after>[^\n]?))"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Bare words that are words of a language, not a value (YAML/INI/JSON constants, Python/TS types).
_CONSTANTS = frozenset({
    "null", "none", "true", "false", "nil", "undefined", "yes", "no", "on", "off", "str", "int", "bytes", "bool",
    "float", "string", "number", "boolean", "any", "unknown", "object", "optional", "required",
})  # fmt: skip
_TYPE_NAME = re.compile(
    r"(?:[a-z_][a-z0-9_]*\.)*(?:[A-Z][a-z]+[0-9]{0,2})+"
)  # `password: SecretStr` (an annotation, not YAML)
# A line of a hunk as the model reads it starts with its local number and "+" (diffmodel.local_text).
_HUNK_PREFIX = re.compile(r"^[ \t]*\d{1,6}\+")
_INI_SECTION = re.compile(r"^(?:\d{1,6}\+|[ +-])?[ \t]*\[[^\]\n]+\][ \t]*$", re.MULTILINE)
_LINE_START_OK = frozenset({"", "export", "set", "setx", "-", "--"})
_CODE_ENDS = frozenset({"", ",", ";", ")", "),", ");", ":", "):"})  # what may follow a name in code


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end == -1 else end


def _bare_end(text: str, line_start: int, line_end: int, name_start: int, value_start: int) -> int:
    """Where a bare (unquoted) value ends: at the line end, or at the quote that closes a string the
    name sits in (a connection string inside quotes). Never at the first punctuation: a password may
    hold an ampersand, a semicolon or parentheses."""
    prefix = text[line_start:name_start]
    end = line_end
    for q in "\"'`":
        if _quotes(prefix, q) % 2 == 1:  # inside an open string: the value ends where that string does
            close = text.find(q, value_start, line_end)
            if close != -1:
                end = min(end, close)
    while end > value_start and text[end - 1] in " \t\r":
        end -= 1
    return end


_APOSTROPHE = re.compile(r"(?<=[A-Za-z]{2})'(?=[a-z])")  # Python's, don't: not a quote (f'x is one)


def _quotes(prefix: str, q: str) -> int:
    return prefix.count(q) - (len(_APOSTROPHE.findall(prefix)) if q == "'" else 0)


def _in_string(prefix: str) -> bool:
    """The name sits inside a string literal opened earlier on its line (`"Server=…;Password=…"`)."""
    return _quotes(prefix, '"') % 2 == 1 or _quotes(prefix, "'") % 2 == 1


def _config_line(text: str, line_start: int, name_start: int, sep: str) -> bool:
    """`name=value` / `name: value` opening its line (.env, .properties, INI, YAML): a bare word there
    is the value itself. Python's `password = secret` (spaces around `=`) is code, unless the text has
    an INI `[section]`."""
    head = _HUNK_PREFIX.sub("", text[line_start:name_start], count=1).strip()
    if head not in _LINE_START_OK:
        return False
    if sep.startswith(":") and not sep.startswith(":="):
        return True
    return not sep.startswith((" ", "\t")) or bool(_INI_SECTION.search(text))


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
        strong = last.group().startswith(("pass", "pwd"))
        found = _other_forms(text, name_start, name_end, strong)
        if found is not None:
            if found[0] < found[1]:
                yield found
            continue
        annotation = _ANNOTATION.match(text, pos)  # `password: str = "..."`
        if annotation:
            pos = annotation.end()
        m = _VALUE.match(text, pos)
        if m is None:
            continue
        if m.group("bare") is None:
            group = next(g for g in ("dq", "sq", "bq") if m.group(g) is not None)
            if _closes_string(text, name_start, name_end, _QUOTE_OF[group]):
                continue  # `"…;Password=" + pw + ";"`: the quote ends the string the name is in
            if looks_secret(m.group(group), strong=strong):
                yield m.span(group)
            continue
        span = _bare_value(text, name_start, name_end, pos, m)
        if span is None:
            continue
        value = text[span[0] : span[1]]
        words = value.split()
        if looks_secret(value if strong else words[0], strong=strong):
            yield span


_QUOTE_OF = {"dq": '"', "sq": "'", "bq": "`"}
# `define('DB_PASSWORD', '…')`, `("api_key", "…")`: a quoted name, a comma, a quoted value
_PAIR = re.compile(r"[\"'][ \t]*,[ \t]*(?:\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)')")
# `Pwd={…};` in an ODBC connection string: the braces quote the value (`}}` is a literal `}`)
_BRACED = re.compile(r"[ \t]*=[ \t]*\{((?:[^}\n]|\}\})*)\}(?=[;\"'`]|$)", re.MULTILINE)
_FORMAT_FIELD = re.compile(r"[A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:![rsa])?(?::[^{}]*)?|\d*")
# YAML block scalar: `password: >-` / `key: |` and the more indented lines below
_BLOCK = re.compile(r"[\"']?:[ \t]+[>|][+-]?[1-9]?[+-]?[ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_LINE_HEAD = re.compile(r"(?:[ \t]*\d{1,6}\+)?")
# `.properties`: `ldap.bind.credentials secret` (whitespace separates a dotted key from its value)
_SPACED = re.compile(r"[ \t]+([^\s=:]\S*)[ \t]*$", re.MULTILINE)


def _other_forms(text: str, name_start: int, name_end: int, strong: bool) -> tuple[int, int] | None:
    """Values the `name = value` shapes miss; an empty span means "looked at, not a secret"."""
    prefix = text[text.rfind("\n", 0, name_start) + 1 : name_start]
    quoted = prefix[-1:] in ("'", '"') and text[name_end : name_end + 1] == prefix[-1]
    if quoted and (m := _PAIR.match(text, name_end)):
        group = 1 if m.group(1) is not None else 2
        value = m.group(group)
        # a tuple of plain strings (`("secret", "bandit/b105")`) is common: a password-named pair needs
        # letters and digits (`("PWD", "OLDPWD")` has none), any other a random-looking value
        ok = looks_secret(value, strong=False) if strong else _looks_random(value)
        return m.span(group) if ok else (0, 0)
    if _in_string(prefix) and (m := _BRACED.match(text, name_end)):
        value = m.group(1)
        if _FORMAT_FIELD.fullmatch(value) and not _random_word(value):
            return 0, 0  # `Pwd={password}`: a format field
        return m.span(1) if looks_secret(value, strong=True) else (0, 0)
    if _BLOCK.match(text, name_end):
        span = _block_scalar(text, name_start, prefix)
        first = text[span[0] : span[1]].split()
        return span if first and (strong or looks_secret(first[0], strong=False)) else (0, 0)
    head = _HUNK_PREFIX.sub("", prefix, count=1).strip()
    if head == "" and "." in text[name_start:name_end] and (m := _SPACED.match(text, name_end)):
        return m.span(1) if looks_secret(m.group(1), strong=False) else (0, 0)
    return None


def _block_scalar(text: str, name_start: int, prefix: str) -> tuple[int, int]:
    """The lines of a YAML block scalar: those below the key, more indented than it."""
    own = _LINE_HEAD.sub("", prefix, count=1)
    indent = len(own) - len(own.lstrip(" \t"))
    pos = text.find("\n", name_start)
    start = end = -1
    while pos != -1:
        line_end = text.find("\n", pos + 1)
        line_end = len(text) if line_end == -1 else line_end
        line = text[pos + 1 : line_end]
        head = _LINE_HEAD.match(line)
        body = line[head.end() if head else 0 :]
        if body.strip():
            if len(body) - len(body.lstrip(" \t")) <= indent:
                break
            if start == -1:
                start = pos + 1 + (head.end() if head else 0) + len(body) - len(body.lstrip(" \t"))
            end = line_end
        pos = -1 if line_end >= len(text) else line_end
    return (start, end) if start != -1 else (0, 0)


def _closes_string(text: str, name_start: int, name_end: int, quote: str) -> bool:
    """The name sits in a string of `quote`s opened earlier on its line (not its own quotes, as in
    `"token": "…"`): the next `quote` closes that string, it does not open the value."""
    prefix = text[text.rfind("\n", 0, name_start) + 1 : name_start]
    if prefix[-1:] == quote and text[name_end : name_end + 1] == quote:
        prefix = prefix[:-1]
    return _quotes(prefix, quote) % 2 == 1


def _bare_value(text: str, name_start: int, name_end: int, sep_start: int, m: re.Match[str]) -> tuple[int, int] | None:
    """The span of an unquoted value, or None when it is code (a call, a name, a type, a variable).

    A word followed by more punctuation (`Tr0ub4dor&3x`, `val;rest`, `word;&)x`) is a value, and so is
    anything inside a string (a connection string); a lone word is a value on a config line only."""
    token, after = m.group("bare"), m.group("after")
    start = m.start("bare")
    if token.startswith("$") or (not token and after in ("", "(", "[", "{", "<", "&", ",", ";", "$")):
        return None  # `$(cat f)`, `${VAR}`, `password = (`, `token: [`
    line_start, line_end = _line_bounds(text, start)
    end = _bare_end(text, line_start, line_end, name_start, start)
    if end <= start:
        return None
    word = token[:-1] if token.endswith(":") else token  # a comparison ending a Python `if` line
    prefix = text[line_start:name_start]
    if prefix[-1:] in ("'", '"') and text[name_end : name_end + 1] == prefix[-1]:
        prefix = prefix[:-1]  # the name's own quotes: `"token": value`
    if not _IDENT.fullmatch(word) or _in_string(prefix):
        return start, end
    if word.lower() in _CONSTANTS:
        return None
    key = text[name_start:name_end].strip("\"'").lower()
    if "." in word and word.rsplit(".", 1)[1].lower() == key:
        return None  # the same-named field of something else: `password: window.auth.password` (a JS object)
    rest = text[m.end("bare") : end].strip()
    tail = rest.lstrip(",)]}")
    closer = after in ",)]}" and (tail in _CODE_ENDS or tail[0] in " \t#." or tail[:2] in ("; ", ": "))
    if after and not after.isspace() and rest not in _CODE_ENDS and after not in "([" and not closer:
        return start, end  # punctuation glued to the word (`val;rest`, `z2K4)GW`): part of the value
    sep = text[sep_start : m.start("bare")].lstrip("\"'")
    if _config_line(text, line_start, name_start, sep):
        if rest in (",", ")", "),", ");") or (sep.startswith(":") and _TYPE_NAME.fullmatch(word)):
            return None  # a keyword argument on its own line; `password: SecretStr`
        callee = after in ("(", "[") and _is_call(rest) and not _random_word(word)
        if callee and (sep.startswith((" ", "\t")) or rest.endswith((",", ")"))):
            return None  # a call: spaces around `=`, or a keyword argument `api_key=sys.argv[4],`
        return start, end
    if after in ("(", "[") and _is_call(rest) and not _random_word(word):
        return None  # a call, an index: `password = get_password()`, `key=self.keys[0]` (`a2Mu7(` is no name)
    if after not in ("(", "[") and (not any(c.isdigit() for c in word) or len(word) < 6):
        return None  # a name: `password = secret_from_vault`, `key=self.key`
    return start, end


def _random_word(word: str) -> bool:
    """`a2Mu7`, `G3C1B`: no function's name (3+ runs of one or two letters or digits)."""
    return sum(len(run) <= 2 for run in _RUNS.findall(word)) >= 3


def _is_call(rest: str) -> bool:
    """`(…)` or `[…]` followed by nothing, a statement end, an attribute, or an operator after a space:
    code. Followed directly by more characters (`q1Gt(aAa)w&x`): a value that holds brackets."""
    depth = 0
    for i, c in enumerate(rest):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                tail = rest[i + 1 :]
                return tail in _CODE_ENDS or tail[0] in " \t.([{}]),;:#" or tail.startswith("//")
    return True  # not closed on this line: a call spread over lines


# Any token of 20+ characters, quoted or not (free text of a question, a log line, code): a random
# one is a secret (`_looks_random`), and so is a long hex string outside the contexts listed below.
# A base64 value may start with "/" (1 in 64 do); an absolute path does too, and has more slashes.
_ENTROPY = re.compile(r"(?<![A-Za-z0-9+/_=.-])([A-Za-z0-9+/_-][A-Za-z0-9+/_-]{19,}={0,3})(?![A-Za-z0-9+/_=-])")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Where a long hex string is a digest or an object id, not a key: git (commit, sha, rev, tree, HEAD...)
# and hashes (sha256:, --hash=, digest, checksum, integrity, etag...), looked for on the same line
# up to `_CONTEXT` characters before the value (the name it is assigned to included) or just after it;
# for a value that opens its line (the output of a command or a REPL), in the line above too.
_HEX_CONTEXT = re.compile(
    r"commit|sha|(?<![a-z])rev|merge|cherry|revert|tree|parent|head|(?<![a-z])git|blob|(?<![a-z])ref"
    r"|(?<![a-z])tag|hash|digest|checksum|md5|etag|fingerprint|integrity|(?<![a-z])sums?(?![a-z])|(?<![a-z])oid"
    r"|object|snapshot|build[_-]?id|changeset|(?<![a-z])hg(?![a-z])|nonce|btih|urn:"
)
_CONTEXT = 64


def _hex_secret(text: str, lower: str, start: int, end: int) -> bool:
    """A hex value of 32+ digits (an md5/sha-sized API secret) that no git or hash context explains."""
    token = text[start:end]
    if not _HEX.fullmatch(token) or token.isdigit() or token.isalpha():
        return False
    line_start = lower.rfind("\n", 0, start) + 1
    line_end = lower.find("\n", end)
    before = lower[max(line_start, start - _CONTEXT) : start]
    if not before.strip(" \t'\"`b"):  # the value opens its line (a REPL's or a command's output): the line above
        before = lower[max(0, line_start - _CONTEXT) : start]
    after = lower[end : min(end + 24, len(lower) if line_end == -1 else line_end)]
    return not (_HEX_CONTEXT.search(before) or _HEX_CONTEXT.search(after))


def high_entropy(text: str, lower: str) -> Iterator[tuple[int, int]]:
    for m in _ENTROPY.finditer(text):
        token = m.group(1)
        if _UUID.fullmatch(token) or (token[0] == "/" and token.count("/") > 2):
            continue
        if _HEXISH.fullmatch(token.rstrip("=")):
            if _hex_secret(text, lower, m.start(1), m.end(1)):
                yield m.span(1)
        elif _looks_random(token):
            yield m.span(1)


# A URL's userinfo (user:password@): the whole userinfo, up to the last @ before the host.
_URL_USERINFO = re.compile(r"://([^\s/@:'\"`\[\]]*:[^\s/'\"`]+)@")


# The password of a URL or `curl -u` written as an example (`# Handle http://username:password@hostname/`,
# docs' DSNs, `curl -u admin:password`).
EXAMPLE_PASSWORDS = frozenset({
    "password", "passwd", "pass", "pwd", "pw", "secret", "changeme", "mypassword",
    "foo", "bar", "baz", "qux", "foobar", "example", "dummy", "placeholder",  # marshmallow: 'ftp://foo:bar@…'
})  # fmt: skip


def url_userinfo(text: str, lower: str) -> Iterator[tuple[int, int]]:
    for m in _URL_USERINFO.finditer(text):
        password = m.group(1).partition(":")[2]
        if is_template(m.group(1)) or password.lower() in EXAMPLE_PASSWORDS or _PLACEHOLDER.fullmatch(password):
            continue
        yield m.span(1)
