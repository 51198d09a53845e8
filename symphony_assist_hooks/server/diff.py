"""A diff a client sent → the Changes a review sees and the file texts the diff shows (#7).

`/assistant/review` never reads this host's repositories or writes a file: the diff is parsed with
`git.parse_patch` (pure, no git process) and the text the analyzers see is rebuilt from it (context
and added lines at their new line numbers, every other line empty). `SentDiff.read` is the
`read_files` reader `review_changes` takes, so nothing falls back to `git.file_texts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import UsageError
from ..git import changes as git
from ..scan.sensitive import is_sensitive_path

__all__ = ["SOURCE", "SentDiff", "parse_diff"]

SOURCE = "server-diff"  # Changes.source: names no revision, so a git read by mistake fails instead of reading HEAD


@dataclass(frozen=True)
class SentDiff:
    """The reviewable files of a client's diff and, per file, its rebuilt new-side text
    (None when that text would exceed `git.DEFAULT_MAX_FILE_BYTES`, as for a file read from git)."""

    changes: git.Changes
    texts: Mapping[str, str | None]

    def read(self, paths: Sequence[str]) -> dict[str, str | None]:
        """The texts of `paths` (None for a path the diff does not show): `review_changes(read_files=...)`."""
        return {p: self.texts.get(p) for p in paths}


def parse_diff(diff: str, *, max_bytes: int = git.DEFAULT_MAX_FILE_BYTES) -> SentDiff:
    """Parse `diff`; raises UsageError when it names no file.

    Skips what a local review skips before reading content: deletions, binaries, submodules,
    symlinks, mode-only changes and sensitive paths. Nothing is read from or written to disk."""

    files: list[git.FileDiff] = []
    skipped: dict[str, int] = {}
    omitted: list[tuple[str, str]] = []  # (path, "sensitive"): a secret file in the diff is a finding
    texts: dict[str, str | None] = {}
    parsed = git.parse_patch(diff)
    if not parsed:
        raise UsageError("no file in the diff: send `git diff` output (with `diff --git` headers)")
    for fd in parsed:
        reason = None
        if fd.status == "D":
            reason = "deleted"
        elif fd.binary:
            reason = "binary"
        elif fd.submodule or fd.symlink:
            reason = "submodule" if fd.submodule else "symlink"
        elif not fd.path or is_sensitive_path(fd.path):
            reason = "sensitive"
        elif not fd.hunks:
            reason = "mode only" if fd.mode_only else "no changes"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            if reason == "sensitive" and fd.path:
                omitted.append((fd.path, reason))
            continue
        files.append(fd)
        texts[fd.path] = _new_text(fd, max_bytes)
    return SentDiff(git.Changes(files=tuple(files), skipped=skipped, source=SOURCE, omitted=tuple(omitted)), texts)


def _new_text(fd: git.FileDiff, max_bytes: int) -> str | None:
    """The new side as far as the diff shows it, or None beyond `max_bytes`.

    The size is computed before the text is built: a hunk header claiming line 10**11 must cost
    nothing, not a string of 10**11 newlines (one request could exhaust the server's memory)."""
    lines: dict[int, str] = {}
    for hunk in fd.hunks:
        lines.update((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None)
    last = max(lines, default=0)
    size = last + sum(len(text.encode("utf-8", "surrogatepass")) for n, text in lines.items() if n >= 1)
    if size > max_bytes:
        return None
    return "\n".join(lines.get(n, "") for n in range(1, last + 1)) + "\n"
