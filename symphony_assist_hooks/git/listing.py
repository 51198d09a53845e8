"""`collect`: the changes between two trees (or the index and a tree), read in four steps.

1. `git diff --raw -z`: the changed files, skipped here by a counted reason before any content is read;
2. `git check-attr`: `linguist-generated` / `linguist-vendored`, only when a .gitattributes exists;
3. `git cat-file --batch-check`: blob sizes, so files over the limit are never read;
4. `git diff -p -- <kept paths>`: the patch of the kept files only, in chunks below the argument limit.

Every git process runs through `gitcli.run`; `git.py`'s readers (`staged`, `revision_range`, ...) call this.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..scan.sensitive import is_sensitive_path
from . import process as gitcli
from .env import raw_listing
from .language import language_of
from .model import Changes, FileDiff
from .patch import SYMLINK, Entry, Section, diff_header, parse_raw, parse_section, section_hunks, split_sections
from .process import PathArg
from .skip import content_reason, entry_reason, name_reason

__all__ = ["collect"]

_NULL_SHA = "0" * 40


def _attributes(root: Path, paths: Sequence[bytes], cached: bool) -> dict[str, frozenset[str]]:
    """`linguist-generated` / `linguist-vendored` set by .gitattributes, only asked if such a file exists."""
    candidates = {b""}
    for p in paths:
        d = os.path.dirname(p)
        while d and d not in candidates:
            candidates.add(d)
            d = os.path.dirname(d)
    if not any((root / os.fsdecode(d) / ".gitattributes").exists() for d in candidates):
        return {}
    args = ["check-attr", "-z", "--stdin", *(["--cached"] if cached else []), "linguist-generated", "linguist-vendored"]
    _, out = gitcli.run(args, cwd=root, stdin=b"\0".join(paths) + b"\0")
    tokens = out.split(b"\0")
    found: dict[str, set[str]] = {}
    for i in range(0, len(tokens) - 2, 3):
        path, attr, value = tokens[i], tokens[i + 1], tokens[i + 2]
        if value not in (b"unspecified", b"unset", b"false"):
            found.setdefault(os.fsdecode(path), set()).add(attr.decode("ascii", "replace"))
    return {k: frozenset(v) for k, v in found.items()}


def _sizes(root: Path, shas: Iterable[str]) -> dict[str, int]:
    wanted = sorted({s for s in shas if s and s != _NULL_SHA})
    if not wanted:
        return {}
    _, out = gitcli.run(["cat-file", "--batch-check"], cwd=root, stdin="".join(s + "\n" for s in wanted).encode())
    sizes: dict[str, int] = {}
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            sizes[parts[0]] = int(parts[2])
    return sizes


def _pathspec_chunks(groups: Sequence[Sequence[bytes]], limit: int = 100_000) -> list[list[bytes]]:
    """Pathspecs in chunks that keep a command line far below ARG_MAX. A group (a rename's two paths)
    stays in one chunk, or git could not pair them."""
    chunks: list[list[bytes]] = [[]]
    size = 0
    for group in groups:
        length = sum(len(p) + 1 for p in group)
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].extend(group)
        size += length
    return chunks


def _read_sections(
    root: Path, diff_args: Sequence[str], context: int, entries: Sequence[Entry]
) -> dict[bytes, list[Section]]:
    """The patch of `entries` only, as sections keyed by the `diff --git` line git prints for each."""
    if not entries:
        return {}
    headers = {diff_header(e) for e in entries}
    sections: dict[bytes, list[Section]] = {}
    for chunk in _pathspec_chunks([tuple(dict.fromkeys((e.old, e.new))) for e in entries]):
        _, patch = gitcli.run(["diff", *diff_args, f"-U{context}", "-p", *gitcli.DIFF_OPTIONS, "--", *chunk], cwd=root)
        for raw_section in split_sections(patch):
            sec = parse_section(raw_section)
            if sec.header in headers:
                sections.setdefault(sec.header, []).append(sec)
    return sections


def _rel_paths(root: Path, base: PathArg | None, paths: Iterable[PathArg]) -> tuple[set[str], tuple[str, ...]]:
    """Caller paths (relative to `base`, default the cwd, or absolute) as repo-relative files and dirs.

    Only the directories are resolved: a path that is itself a symlink stays that path.
    """
    start = os.path.realpath(base if base is not None else os.getcwd())
    real_root = os.path.realpath(root)
    files: set[str] = set()
    dirs: list[str] = []
    for p in paths:
        absolute = os.path.normpath(os.path.join(start, os.fspath(p)))
        rel = os.path.relpath(absolute, real_root).replace(os.sep, "/")
        if rel == ".":
            return set(), ()  # the whole repository
        files.add(rel)
        dirs.append(rel + "/")
    return files, tuple(dirs)


def collect(
    diff_args: Sequence[str],
    source: str,
    *,
    context: int,
    paths: Sequence[PathArg],
    include: Sequence[str],
    exclude: Sequence[str],
    max_file_bytes: int,
    root: Path,
    cwd: PathArg | None,
    cached: bool,
) -> Changes:
    _, raw = gitcli.run(raw_listing(list(diff_args)), cwd=root)
    entries = parse_raw(raw)
    if paths:
        files, dirs = _rel_paths(root, cwd, paths)
        if files:
            entries = [e for e in entries if e.path in files or e.path.startswith(dirs)]

    omitted: list[tuple[str, str]] = []
    candidates: list[Entry] = []
    deleted: list[Entry] = []
    for e in entries:
        reason = entry_reason(e, include, exclude)
        if reason is None:
            candidates.append(e)
        else:
            omitted.append((e.path, reason))
            if reason == "deleted" and e.src_mode != SYMLINK and not is_sensitive_path(e.path):
                deleted.append(e)

    attrs = _attributes(root, [e.new for e in candidates], cached) if candidates else {}
    kept: list[Entry] = []
    for e in candidates:
        reason = name_reason(e.path, attrs)
        if reason is None:
            kept.append(e)
        else:
            omitted.append((e.path, reason))

    sizes = _sizes(root, [e.dst_sha for e in kept] + [e.src_sha for e in deleted])
    small: list[Entry] = []
    for e in kept:
        if sizes.get(e.dst_sha, 0) > max_file_bytes:
            omitted.append((e.path, "too-large"))
        else:
            small.append(e)
    deleted = [e for e in deleted if sizes.get(e.src_sha, 0) <= max_file_bytes]

    sections = _read_sections(root, diff_args, context, [*small, *deleted])
    reviewable: list[FileDiff] = []
    for e in small:
        secs = sections.get(diff_header(e), [])
        if e.status == "T":  # file <-> symlink: git prints a deletion and a creation; review the creation
            secs = [s for s in secs if "deleted file mode" not in s.meta]
        path = e.path
        file = FileDiff(
            path=path,
            old_path=os.fsdecode(e.old) if e.status in ("R", "C") else None,
            status=e.status,
            hunks=tuple(h for s in secs for h in section_hunks(path, s)),
            binary=any(s.binary for s in secs),
            language=language_of(path),
        )
        reason = content_reason(file, secs)
        if reason is None:
            reviewable.append(file)
        else:
            omitted.append((path, reason))

    removed: list[FileDiff] = []
    for e in deleted:
        secs = [s for s in sections.get(diff_header(e), []) if not s.binary]
        hunks = tuple(h for s in secs for h in section_hunks(e.path, s))
        if hunks:
            removed.append(FileDiff(e.path, None, "D", hunks, language=language_of(e.path)))
    skipped: dict[str, int] = {}
    for _, reason in omitted:
        skipped[reason] = skipped.get(reason, 0) + 1
    return Changes(tuple(reviewable), skipped, source, deleted=tuple(removed), omitted=tuple(omitted))
