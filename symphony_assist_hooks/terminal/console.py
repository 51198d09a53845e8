"""The command line's stdout and stderr: colour decisions, and every line written through `logsafe`.

Model output, file names, test output and upstream error messages are untrusted. `Console.print` and
`Console.notice` pass what they are given through `logsafe` before colouring it, so nothing a model or
a server writes can move the cursor, set a hyperlink, write the clipboard, reorder text or run a CI
runner's workflow command, whoever called them.

The progress line of a long run (`Progress`, #11) lives in `progressline.py`: every command, `--help`
and `--version` included, imports this module, so it stays on `os`, `sys` and `logsafe` (no `threading`,
no `typing`; the measurement is in cli/__init__.py's docstring).
"""

from __future__ import annotations

import os
import sys

from ..logsafe import inert, inert_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see the module docstring)
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["Console", "use_color"]


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
        """Result lines on stdout, made inert (`logsafe.inert`: split on `\\n` only) and then coloured."""
        self.out.write(self.paint(inert(text), style, self.color_out) + "\n")

    def notice(self, text: str, style: str | None = "yellow") -> None:
        """One line on stderr: a fallback reason, a warning.

        `text` may quote untrusted text (a refusal, a server's error message, a file name): it is made
        one inert line (`logsafe.inert_line`), because the Actions runner reads stderr for workflow
        commands too and executes a legacy `##[command]` anywhere in a line.
        """
        line = inert_line(f"symphony-assist: {text}")
        self.err.write(self.paint(line, style, self.color_err) + "\n")
        self.err.flush()

    def error(self, text: str) -> None:
        self.notice(f"error: {text}", "red")
