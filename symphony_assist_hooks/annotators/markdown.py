"""Untrusted text made inert for GitHub-flavoured markdown (step summaries, SARIF help).

Threat: model output rendered as markdown could add links, remote images (tracking pixels),
raw HTML, @mentions that notify people, or `|` that breaks a table (docs/reference.md#output-escaping).

- `text`/`cell`/`paragraphs`: every ASCII punctuation character is backslash-escaped (CommonMark
  allows it for all of them), so no emphasis, link, image, HTML, entity, heading, list or table
  syntax survives. Backslash escapes do not stop what GitHub recognises in the *rendered* text —
  autolinks (`http://`, `www.`, e-mail) and @mentions — so those triggers are broken with a
  zero-width space (U+200B) that renders as nothing.
- `code_span`: text inside a code span whose backtick fence is longer than any run in the text;
  nothing inside a code span is linked or mentioned. Backslash escapes do not work there, so `##[`
  gets a zero-width space too: a job that prints the summary file still shows no legacy command.
"""

from __future__ import annotations

import re

from ..logsafe import clean

__all__ = ["cell", "code_span", "paragraphs", "text"]

ZWSP = "\u200b"
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
# "://" and "www." (autolinks), "@" (mentions, e-mail autolinks), "#123" (issue references).
_TRIGGERS = re.compile(r"(?i):(?=//)|www(?=\.)|@|#(?=\d)")


def _break_triggers(s: str) -> str:
    return _TRIGGERS.sub(lambda m: m.group(0) + ZWSP, s)


def text(s: str, limit: int = 2000) -> str:
    """One line of inert inline markdown (newlines become spaces)."""
    s = " ".join(clean(s, keep_newlines=False).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return _PUNCT.sub(r"\\\1", _break_triggers(s))


def cell(s: str, limit: int = 300) -> str:
    """A table cell: inert inline text; `|` is escaped like every other punctuation character."""
    return text(s, limit) or " "


def paragraphs(s: str, limit: int = 4000) -> str:
    """Multi-line untrusted text as inert paragraphs; lines kept as hard breaks (`<br>`)."""
    s = clean(s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    blocks = re.split(r"\n\s*\n", s.strip())
    out = []
    for block in blocks:
        lines = [text(line, limit) for line in block.split("\n") if line.strip()]
        if lines:
            out.append("<br>\n".join(lines))
    return "\n\n".join(out)


def code_span(s: str, *, in_table: bool = False, limit: int = 300) -> str:
    """`s` in a code span that it cannot close; in a table `|` is written `\\|` as GFM requires."""
    s = " ".join(clean(s, keep_newlines=False).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    if not s:
        return ""
    s = s.replace("##[", "##" + ZWSP + "[")
    if in_table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    # One space on each side is stripped by the renderer, so text may start or end with a backtick.
    return f"{fence} {s} {fence}"
