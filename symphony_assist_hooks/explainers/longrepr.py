"""Reading pytest's failure text: frames, the final exception, assertion introspection.

Handles the `--tb=auto/long/short` layouts (`path:line: in func` frames, `>` failing lines, `E` error lines,
`^^^` position markers) and `--tb=native` (`File "…", line N, in func`). Chained exceptions are split so the
*last* one is the failure and the earlier ones are its causes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Frame", "Parsed", "is_project_path", "parse"]

_LOCATION = re.compile(
    r"^(?P<path>[^\s>][^:\n]*?|<frozen [^>]+>):(?P<line>\d+):(?: in (?P<func>\S+)| (?P<exc>[\w.]+))?\s*$"
)
_NATIVE = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_FIXTURE_FILE = re.compile(r"^file (?P<path>.+), line (?P<line>\d+)$")
_SEPARATOR = re.compile(r"^(_ )+_?\s*$")
_CHAIN = re.compile(
    r"^(The above exception was the direct cause of the following exception:|"
    r"During handling of the above exception, another exception occurred:)$"
)
_CARET = re.compile(r"^\s*[\^~]+\s*$")
_EXC_LINE = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w.]*)?(?:Error|Exception|Exit|Interrupt|Warning|Failed|Iteration|"
    r"Timeout|Refused|Reset|gaierror|herror|timeout|Found|Denied|Exceeded)\w*)(?::\s?(?P<msg>.*))?$"
)
_LOCAL = re.compile(r"^(?P<name>[A-Za-z_]\w*) = (?P<value>.+)$")
_WHERE = re.compile(r"^\+(?P<indent>\s*)where (?P<value>.+?) = (?P<expr>.+)$")
_NON_PROJECT = re.compile(
    r"(site-packages|dist-packages|[\\/]lib[\\/]python\d[\d.]*[\\/]|^<|[\\/]_pytest[\\/]|"
    r"[\\/]pluggy[\\/]|[\\/]importlib[\\/])"
)


def is_project_path(path: str) -> bool:
    """False for the standard library, installed packages, pytest's own frames and `<frozen …>`."""
    return bool(path) and not _NON_PROJECT.search(path)


@dataclass
class Frame:
    path: str = ""
    line: int = 0
    func: str = ""
    source: list[str] = field(default_factory=list)  # the code shown for the frame, dedented by pytest's marker
    failing: str = ""  # the line pytest marked with `>` (or the only line of a short frame)
    caret: str = ""  # the part of `failing` under ^^^ markers, if shown
    errors: list[str] = field(default_factory=list)  # `E` lines, marker stripped
    locals: dict[str, str] = field(default_factory=dict)  # `name = value` lines (--showlocals / fixtures)

    @property
    def project(self) -> bool:
        return is_project_path(self.path)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" + (f" in {self.func}" if self.func else "")


@dataclass
class Parsed:
    frames: list[Frame] = field(default_factory=list)  # outermost first, of the final exception
    exc_type: str = ""  # as printed: "ZeroDivisionError", "requests.exceptions.ConnectionError"
    message: str = ""  # first line of the message
    errors: list[str] = field(default_factory=list)  # every `E` line of the final exception, in order
    causes: list[str] = field(default_factory=list)  # "Type: message" of chained earlier exceptions
    text: str = ""

    @property
    def short_type(self) -> str:
        return self.exc_type.rsplit(".", 1)[-1]

    def innermost(self, project: bool = True) -> Frame | None:
        """The innermost frame (in the project when asked and one exists)."""
        located = [f for f in self.frames if f.path]
        frames = [f for f in located if f.project or not project]
        return frames[-1] if frames else (located[-1] if located else None)

    def wheres(self) -> list[tuple[str, str]]:
        """Assertion introspection: (value, expression) pairs from `+  where value = expr` lines, outer first."""
        pairs = []
        for line in self.errors:
            m = _WHERE.match(line.strip())
            if m and len(m.group("indent")) <= 2:
                pairs.append((m.group("value"), m.group("expr")))
        return pairs


def _strip_marker(line: str) -> tuple[str, str]:
    """('E', rest) / ('>', rest) / ('', line) with pytest's fixed-width marker column removed."""
    if line.startswith("E ") or line == "E":
        return "E", line[1:].strip() if line[1:].startswith("   ") else line[2:].rstrip()
    if line.startswith(">"):
        return ">", line[1:]
    return "", line


def _chains(text: str) -> list[list[str]]:
    chains: list[list[str]] = [[]]
    for line in text.splitlines():
        if _CHAIN.match(line.strip()):
            chains.append([])
        else:
            chains[-1].append(line)
    return chains


def _frames(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    cur = Frame()
    last_code = ""

    def close() -> None:
        nonlocal cur
        if cur.path or cur.source or cur.errors or cur.failing:
            frames.append(cur)
        cur = Frame()

    for raw in lines:
        line = raw.rstrip("\n")
        if _SEPARATOR.match(line):
            close()
            continue
        marker, rest = _strip_marker(line)
        if marker == "E":
            cur.errors.append(rest)
            continue
        if marker == ">":
            cur.failing = rest.strip()
            cur.source.append(rest)
            last_code = " " + rest  # the same columns as the ^^^ line below it
            continue
        m = _LOCATION.match(line) or _NATIVE.match(line)
        if m:
            if m.groupdict().get("func") is not None:  # a short frame: location first, then its code
                close()
                cur.path, cur.line, cur.func = m.group("path"), int(m.group("line")), m.group("func")
            else:  # a long frame ends with its location (and, for the last one, the exception name)
                if cur.func:  # ...but a short frame's body ends here: the location is a frame of its own
                    close()
                cur.path, cur.line = m.group("path"), int(m.group("line"))
                close()
            last_code = ""
            continue
        if (fm := _FIXTURE_FILE.match(line)) and not cur.path:
            cur.path, cur.line = fm.group("path"), int(fm.group("line"))
        elif _CARET.match(line):
            if last_code:
                start = len(line) - len(line.lstrip())
                cur.caret = last_code[start : start + len(line.strip())].strip()
        elif (lm := _LOCAL.match(line)) and not cur.source:
            cur.locals[lm.group("name")] = lm.group("value")
        elif line.strip():
            if cur.func and not cur.failing and not cur.source:
                cur.failing = line.strip()  # a short frame's single code line
            cur.source.append(line)
            last_code = line
            continue
        last_code = ""
    close()
    return frames


def parse(text: str) -> Parsed:
    """Parse pytest's longrepr text (any --tb layout) into frames and the final exception."""
    chains = _chains(text)
    parsed = Parsed(text=text)
    for earlier in chains[:-1]:
        errs = [e for f in _frames(earlier) for e in f.errors]
        exc = next((e for e in reversed(errs) if _EXC_LINE.match(e)), "")
        if exc:
            parsed.causes.append(exc)
    frames = _frames(chains[-1])
    parsed.frames = frames
    parsed.errors = [e for f in frames for e in f.errors]
    for line in parsed.errors:
        m = _EXC_LINE.match(line.strip())
        if m:
            parsed.exc_type, parsed.message = m.group("type"), (m.group("msg") or "").strip()
            break
    if not parsed.exc_type:
        tail = [ln for ln in chains[-1] if ln.strip()]
        final = _LOCATION.match(tail[-1]) if tail else None
        if final and final.group("exc"):
            parsed.exc_type = final.group("exc")
        native_last = tail[-1].strip() if tail else ""
        if not parsed.exc_type and (m := _EXC_LINE.match(native_last)):
            parsed.exc_type, parsed.message = m.group("type"), (m.group("msg") or "").strip()
        if parsed.errors and not parsed.message:
            parsed.message = parsed.errors[0].strip()
    return parsed
