"""What every failure explainer reads (`Context`: the failure, its parsed longrepr, the project root) and
returns (`Verdict`: category id, explanation, fix, and optionally where it points).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..findings import Failure
from .longrepr import Frame, Parsed

__all__ = ["Context", "Verdict", "def_name", "quote"]


class Verdict(NamedTuple):
    category: str
    explanation: str
    fix: str
    path: str = ""  # where the explanation points, when not the innermost project frame
    line: int = 0


_PRAGMA = re.compile(r"\s+#\s*(type|noqa|pragma|nosec)\b.*$")


def quote(code: str, limit: int = 80) -> str:
    code = " ".join(_PRAGMA.sub("", code).split())
    return f"`{code if len(code) <= limit else code[: limit - 1] + '…'}`"


@dataclass
class Context:
    failure: Failure
    parsed: Parsed
    root: Path

    @property
    def test(self) -> str:
        """The test's name as written: `test_x`, `TestCart.test_x` (parameters kept)."""
        parts = self.failure.test_id.split("::")[1:]
        return ".".join(parts) or self.failure.test_id

    @property
    def exc(self) -> str:
        return self.parsed.exc_type or self.failure.exc_type

    @property
    def short(self) -> str:
        return self.exc.rsplit(".", 1)[-1]

    @property
    def message(self) -> str:
        return self.parsed.message

    @property
    def inner(self) -> Frame | None:
        return self.parsed.innermost(project=True)

    @property
    def test_frame(self) -> Frame | None:
        """The frame in the test file (the first project frame when the file is unknown)."""
        name = Path(self.failure.path).name if self.failure.path else ""
        for frame in self.parsed.frames:
            if name and Path(frame.path).name == name:
                return frame
        return next((f for f in self.parsed.frames if f.project and f.path), None)

    def rel(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.root)) if Path(path).is_absolute() else path
        except ValueError:
            return path

    def at(self, frame: Frame | None) -> str:
        """`path:line in func` of a frame (or the test's own location)."""
        if frame is None:
            return f"{self.failure.path}:{self.failure.line}" if self.failure.path else self.failure.test_id
        func = frame.func or def_name(frame)
        return f"{self.rel(frame.path)}:{frame.line}" + (f" in `{func}`" if func else "")

    def line_of(self, frame: Frame | None) -> str:
        return f" ({quote(frame.failing)})" if frame and frame.failing else ""

    def via(self) -> str:
        """', called from the test at …' when the error happened below the test function."""
        inner, test = self.inner, self.test_frame
        if inner is None or test is None or inner is test:
            return ""
        return f", reached from `{self.test}` at {self.at(test)}{self.line_of(test)}"


def def_name(frame: Frame) -> str:
    for line in frame.source:
        m = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
        if m:
            return m.group(1)
    return ""
