"""The records a diff is read into: `Line`, `Hunk`, `FileDiff` and `Changes` (re-exported by `git.py`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Changes", "FileDiff", "Hunk", "Line"]


@dataclass(frozen=True)
class Line:
    """One diff line: kind " " (context), "+" (added) or "-" (removed); text without its newline."""

    kind: str
    text: str
    old_no: int | None
    new_no: int | None


@dataclass(frozen=True)
class Hunk:
    path: str
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    header: str  # the whole "@@ -a,b +c,d @@ section" line
    lines: tuple[Line, ...]

    @property
    def section(self) -> str:
        """The function/class context git printed after the second @@ (may be empty)."""
        _, _, rest = self.header.partition(" @@")
        return rest.strip()

    @property
    def added_lines(self) -> tuple[int, ...]:
        """New-file line numbers of the added lines."""
        return tuple(ln.new_no for ln in self.lines if ln.kind == "+" and ln.new_no is not None)

    @property
    def removed_lines(self) -> tuple[int, ...]:
        """Old-file line numbers of the removed lines."""
        return tuple(ln.old_no for ln in self.lines if ln.kind == "-" and ln.old_no is not None)

    def local_text(self) -> str:
        """The hunk as the model reads it, independent of where the hunk sits in its file.

        New-side lines (context and added) are counted 1..n; only added lines show their number,
        because findings may only point at them; context lines start with a space, removed with "-":
             def total(xs):
            -    return sum(xs)
            2+    return math.fsum(xs)
        A hunk that only moved (an edit above it, a rebase) renders identically. Every character here
        is paid for on every request, so the format is as lean as it can be while staying unambiguous.
        """
        out: list[str] = []
        local = 0
        for ln in self.lines:
            if ln.kind == "-":
                out.append(f"-{ln.text}")
            else:
                local += 1
                out.append(f"{local}+{ln.text}" if ln.kind == "+" else f" {ln.text}")
        return "\n".join(out)

    def to_absolute(self, local_line: int) -> int | None:
        """The new-file line number of hunk-local line `local_line` (as numbered by `local_text`).

        None when the hunk has no such line (a model may answer with any number).
        """
        if local_line < 1:
            return None
        seen = 0
        for ln in self.lines:
            if ln.kind != "-":
                seen += 1
                if seen == local_line:
                    return ln.new_no
        return None

    def to_local(self, new_line: int) -> int | None:
        """The inverse of `to_absolute`: the hunk-local number of new-file line `new_line`, or None."""
        local = 0
        for ln in self.lines:
            if ln.kind != "-":
                local += 1
                if ln.new_no == new_line:
                    return local
        return None


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None  # the source of a rename or copy, else None
    status: str  # A, M, D, R, C, T, U
    hunks: tuple[Hunk, ...]
    binary: bool = False
    mode_only: bool = False
    submodule: bool = False
    symlink: bool = False
    language: str = "text"


@dataclass(frozen=True)
class Changes:
    """What a review sees.

    `files` are the reviewable files; `skipped` counts the others by reason; `omitted` lists them as
    (path, reason). `deleted` holds deleted text files with their removed lines: never reviewed, but
    available to a secret scan. `source` is "staged", the revision range as given, or "all-files".
    """

    files: tuple[FileDiff, ...]
    skipped: dict[str, int]
    source: str
    deleted: tuple[FileDiff, ...] = ()
    omitted: tuple[tuple[str, str], ...] = ()

    @property
    def hunks(self) -> tuple[Hunk, ...]:
        return tuple(h for f in self.files for h in f.hunks)
