"""All terminal output goes through here: colour decisions, and making untrusted text harmless.

Model output, file names and test output are untrusted: `sanitize` removes what a terminal would
interpret (ANSI CSI/OSC sequences, C0/C1 controls, bidi overrides, zero-width and tag characters),
so nothing a model writes can move the cursor, set a hyperlink, write the clipboard or reorder text.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

__all__ = ["Console", "inert_json", "inert_line", "inert_text", "sanitize", "use_color"]

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (title, hyperlink, clipboard)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]?"  # lone ESC or two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# What the Actions runner's TrimStart() removes (.NET Char.IsWhiteSpace) before it looks for `::`.
_DOTNET_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f"
)
# C0 controls except \t and \n, DEL, C1 controls, bidi controls, zero-width chars, BOM, tag characters.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)


def sanitize(text: str, *, keep_newlines: bool = True) -> str:
    """Untrusted text made safe for a terminal, a CI log or a file: escapes and controls removed.

    \\r is dropped (it could overwrite a line); with keep_newlines=False newlines become spaces.
    """
    text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return text if keep_newlines else text.replace("\n", " ")


def inert_line(text: str) -> str:
    """Untrusted text as one line that neither a terminal nor the GitHub Actions runner acts on:
    sanitized, newlines made spaces, `##[` broken up, and a line that would start with `::` (after
    the whitespace the runner trims) put behind a `│ ` gutter."""
    line = sanitize(text, keep_newlines=False).replace("##[", "## [")
    if line.lstrip(_DOTNET_WHITESPACE).startswith("::"):
        line = "│ " + line
    return line


def inert_text(text: str) -> str:
    """Untrusted multi-line text for a terminal or a CI log: sanitized, every line made inert as by
    `inert_line` (newlines kept)."""
    return "\n".join(inert_line(line) for line in sanitize(text).split("\n"))


def inert_json(text: str) -> str:
    """Serialized JSON that the Actions runner cannot read a legacy `##[command]` from: `[` after `##`
    written as the escape `\\u005b`. `#` occurs only inside JSON strings, so the document decodes to
    exactly the same values (a `::` command needs a line start, which JSON text never gives a string)."""
    return text.replace("##[", "##\\u005b")


def use_color(stream: TextIO, flag: str = "auto") -> bool:
    """`--color` beats the environment; then NO_COLOR, FORCE_COLOR, then a TTY that is not dumb."""
    if flag != "auto":
        return flag == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


class Console:
    """stdout for results, stderr for notices. Colour only when `use_color` says so."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, color: str = "auto") -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.color_out = use_color(self.out, color)
        self.color_err = use_color(self.err, color)

    @staticmethod
    def paint(text: str, style: str | None, enabled: bool) -> str:
        if not enabled or not style:
            return text
        codes = ";".join(_CODES[s] for s in style.split() if s in _CODES)
        return f"\x1b[{codes}m{text}\x1b[0m" if codes else text

    def print(self, text: str = "", style: str | None = None) -> None:
        """A result line on stdout. `text` must already be sanitized where it holds untrusted parts."""
        self.out.write(self.paint(text, style, self.color_out) + "\n")

    def notice(self, text: str, style: str | None = "yellow") -> None:
        """One line on stderr: a fallback reason, a warning.

        `text` may quote untrusted text (a refusal, a server's error message, a file name): it is made
        one clean line, and `##[` is broken up, because the Actions runner reads stderr for workflow
        commands too and executes a legacy `##[command]` anywhere in a line (docs/reference.md#output-escaping).
        """
        line = inert_line(f"symphony-assist: {text}")
        self.err.write(self.paint(line, style, self.color_err) + "\n")
        self.err.flush()

    def error(self, text: str) -> None:
        self.notice(f"error: {text}", "red")
