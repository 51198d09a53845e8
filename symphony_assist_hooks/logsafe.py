"""The one runner-safe writer: every line that may reach a terminal or a CI log is made inert here.

Model answers, upstream error messages, test output and repository-controlled strings (file names,
test ids) are untrusted. Printed raw into a CI log they could drive the runner:

- GitHub Actions (actions/runner `ActionCommand.cs`) splits a step's output on `\\r`, `\\n` and
  `\\r\\n`, then executes a line as a command when, after .NET `TrimStart()` (which removes every
  `Char.IsWhiteSpace`, U+2028/U+2029 and U+00A0 included), it starts with `::` (`::add-mask::`,
  `::stop-commands::`, `::error file=…::`), or — legacy form — when it holds `##[` anywhere
  (`##[error]`, `##[add-mask]`).
- GitLab and terminals act on ESC sequences (colours, cursor moves, OSC 8 hyperlinks, OSC 52
  clipboard writes, GitLab's `section_start` markers, which also need `\\r`).

Untrusted text goes through two steps, always in this order and always here:

1. `clean` removes what a terminal or log viewer would interpret: ESC-introduced sequences, C0/C1
   controls except `\\t` and `\\n`, every Unicode format character (zero-width, bidi controls such as
   U+061C, U+200E/F, U+202A–E, U+2066–9, the BOM, tag characters) and lone surrogates. Every line or
   paragraph separator other than `\\n` (`\\r`, `\\x0b`, `\\x0c`, `\\x1c`–`\\x1e`, `\\x85`, U+2028,
   U+2029) becomes a space, so a line is only ever split on `\\n` (never with `str.splitlines()`).
2. `defuse` only inserts characters, never removes one: `##[` becomes `## [` anywhere, and a line
   whose text starts with `::` after the whitespace the runner trims gets a `│ ` gutter. It runs last,
   on the final string, so no removal can happen after it: `##\\u200b[error]` is cleaned to
   `##[error]` and then defused; `\\x00::add-mask::x` is cleaned to `::add-mask::x` and then guttered.

Our own annotations are built by `workflow_command`, which escapes the message into one line with the
toolkit's exact rules, so only the command we meant is parsed. JSON documents go through `inert_json`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: --help imports this module (terminal/console.py)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DOTNET_WHITESPACE",
    "GUTTER",
    "clean",
    "defuse",
    "escape_data",
    "escape_property",
    "inert",
    "inert_json",
    "inert_line",
    "inert_lines",
    "stop_commands_block",
    "workflow_command",
]


class _Lazy:
    """A pattern compiled on first use: `--help` and a replayed hook print a few lines at most, and
    compiling every pattern at import cost ~2.5 ms of a ~45 ms `--help` (python -X importtime)."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, *args: Any) -> None:
        self._args = args
        self._compiled: re.Pattern[str] | None = None

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return self._compiled.sub(repl, text)


GUTTER = "│ "
# .NET Char.IsWhiteSpace: what the runner's TrimStart()/Trim() remove.
DOTNET_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The gutter check strips \x1c-\x1f too (Python's str.isspace counts them): wider than the runner, never narrower.
_LEADING = DOTNET_WHITESPACE + "\x1c\x1d\x1e\x1f"

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes.
_ANSI = _Lazy(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (title, hyperlink, clipboard)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]?"  # lone ESC or two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# Line and paragraph separators other than \n: some tool splits a line on each of them.
_SEPARATORS = _Lazy("\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# C0 controls except \t and \n, DEL, C1 controls, every Unicode format character (category Cf, up to
# Unicode 15.1: soft hyphen, Arabic and Syriac marks, U+061C, U+180E, zero-width characters, U+200E/F,
# bidi embeddings/overrides/isolates, invisible operators, the BOM, interlinear annotation marks, tag
# characters, ...) and lone surrogates.
_INVISIBLE = _Lazy(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_BREAKS = _Lazy("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """Untrusted text with nothing a terminal or a log viewer acts on: escapes and invisibles removed,
    separators other than `\\n` made spaces (with keep_newlines=False, `\\n` too).

    Not enough for a CI log on its own (removal can join `##` and `[`): print through `inert`,
    `inert_line` or `defuse`, which run after it.
    """
    text = _ANSI.sub("", text)
    text = _SEPARATORS.sub(lambda m: "\n" if m.group() == "\r\n" else " ", text)
    text = _INVISIBLE.sub("", text)
    return text if keep_newlines else text.replace("\n", " ")


def _defuse_line(line: str) -> str:
    line = _BREAKS.sub(" ", line).replace("##[", "## [")
    if line.lstrip(_LEADING).startswith("::"):
        line = GUTTER + line
    return line


def defuse(text: str) -> str:
    """The last step before a CI log: a line no runner executes, from any string.

    Only inserts characters (a space in `## [`, a `│ ` gutter) and turns separators other than `\\n`
    into spaces, so it can run on text that already carries our own colour codes, and nothing it does
    can form a command. Lines are split on `\\n` only.
    """
    return "\n".join(_defuse_line(line) for line in text.split("\n"))


def inert(text: str) -> str:
    """Untrusted multi-line text for a terminal or a CI log: `clean`, then `defuse` (newlines kept)."""
    return defuse(clean(text))


def inert_line(text: str) -> str:
    """Untrusted text as one inert line: `clean` with newlines made spaces, then `defuse`."""
    return _defuse_line(clean(text, keep_newlines=False))


def inert_lines(text: str) -> list[str]:
    """`inert(text)` as its lines, split on `\\n` only (for writers that take one line at a time)."""
    return inert(text).split("\n")


# JSON is data: characters that display badly are written as \u escapes, which decode to the same values.
_JSON_ESCAPE = _Lazy(
    "##\\[|[\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


def _json_escape(m: re.Match[str]) -> str:
    s = m.group()
    if s == "##[":
        return "##\\u005b"
    code = ord(s)
    if code > 0xFFFF:  # a surrogate pair, as JSON spells astral characters
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def inert_json(text: str) -> str:
    """Serialized JSON that neither the Actions runner nor a terminal acts on, decoding to the same values.

    `[` after `##` is written as `\\u005b`; C1 controls, format characters and U+2028/U+2029 (raw in
    `ensure_ascii=False` output) as `\\uXXXX`. Such characters and `#` occur only inside JSON strings,
    where an escape means the same; json.dumps already escapes C0 controls, and a `::` command needs a
    line start, which `json.dumps` never gives a string.
    """
    return _JSON_ESCAPE.sub(_json_escape, text)


# ------------------------------------------------------------------ our own GitHub workflow commands
# The runner refuses these as stop tokens (ActionCommandManager.ValidateStopToken).
_RUNNER_COMMANDS = frozenset(
    {
        "set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher", "debug",
        "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands", "pause-logging",
    }
)  # fmt: skip


def escape_data(s: str) -> str:
    """The message after `::` (`escapeData` in actions/toolkit): `%` first, then CR and LF."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """A `key=value` value (`escapeProperty`): like data, plus `:` and `,`."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    end_line: int | None = None,
    col: int | None = None,
    end_column: int | None = None,
    title: str | None = None,
) -> str:
    """One line `::kind k=v,…::message` that the runner parses back to exactly these values.

    Exact: whatever `message` and the values hold, the line is one line (CR and LF escaped) and the
    runner reads back exactly them, so only this command runs; callers `clean` untrusted text first so
    it also displays harmlessly (the github format does). Annotation kinds only. The runner cannot
    carry every property value: it splits `k=v` with .NET's `Split('=', 2, RemoveEmptyEntries)`, which
    drops leading `=` from a value and drops empty values, and it trims the whole property list, which
    removes trailing whitespace from the last one. Values are normalised the same way here so what we
    emit is what GitHub shows.
    """
    if kind not in {"error", "warning", "notice", "debug"}:
        raise ValueError(f"workflow_command writes annotations only, not {kind!r}")
    props = [
        ("file", file),
        ("line", line),
        ("endLine", end_line),
        ("col", col),
        ("endColumn", end_column),
        ("title", title),
    ]
    present = [(k, str(v)) for k, v in props if v is not None]
    pairs = []
    for i, (key, raw) in enumerate(present):
        value = raw.rstrip(DOTNET_WHITESPACE) if i == len(present) - 1 else raw
        value = value.lstrip("=")
        if value:
            pairs.append(f"{key}={escape_property(value)}")
    body = ",".join(pairs)
    return f"::{kind}{' ' + body if body else ''}::{escape_data(message)}"


def stop_commands_block(text_lines: Sequence[str], token: str) -> list[str]:
    """Free text for the log: commands paused with `token`, and every line guttered and made inert
    anyway (the pause is a second fence, not the only one)."""
    if not token.isalnum() or not token.isascii() or token.lower() in _RUNNER_COMMANDS:
        raise ValueError(f"stop-commands token must be random ASCII letters/digits, not {token!r}")
    body = [GUTTER + inert_line(line) for line in text_lines]
    return [f"::stop-commands::{token}", *body, f"::{token}::"]
