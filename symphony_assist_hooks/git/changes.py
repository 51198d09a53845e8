"""The only git access: the git CLI through one subprocess wrapper (`gitcli.run`), never GitPython.

Stdlib only: this runs on the hook's cache-hit path (docs/reference.md#git-inputs). Import from here;
the modules behind it are internal:

    git.py        this facade, and the readers: staged, revision_range, from_env, all_files,
                  file_text(s), in_merge, conflicts, operation_in_progress
    gitcli.py     the one subprocess wrapper (pinned output format, environment, GitError), repo_root
    gitdiff.py    collect: raw listing -> skip -> sizes -> patch of the kept files -> Changes
    diffparse.py  git's `--raw -z` listing and unified patches, parsed (parse_patch); pure
    skiprules.py  why a file is not reviewed (lock, vendored, generated, minified, ...); pure
    diffmodel.py  Line, Hunk, FileDiff, Changes
    language.py   language_of

How a diff is read (docs/reference.md#git-inputs):
1. `git rev-parse --is-inside-work-tree --show-toplevel`: not a repo, a bare repo, "dubious ownership"
   and a missing git become one `GitError` line (exit 2) that quotes git's own message.
2. `git diff --raw -z` lists the changed files with modes and blob ids: exact paths (spaces, commas,
   colons, newlines, non-UTF-8 bytes) and no content. Files are skipped here, with a counted reason,
   before any content is read: deletions, submodules, symlinks, sensitive paths, lock files, vendored,
   generated and minified files, include/exclude globs, mode-only changes and pure renames.
3. `git cat-file --batch-check` gives the blob sizes: files over `max_file_bytes` are never read.
4. `git diff -p -- <kept paths>` reads only the kept files; `parse_patch`'s section parser turns them
   into `Hunk`s. Binary files (git's own verdict) and files marked generated are skipped then.

Every call pins the output format against the user's git config (`diff.noprefix`, `diff.mnemonicPrefix`,
colour, `diff.external`, textconv drivers, `diff.relative`, `diff.submodule`, `diff.algorithm`) and keeps
the caller's environment: under `git commit -a` git points `GIT_INDEX_FILE` at a temporary index, and
the staged diff is that index (docs/reference.md#git-inputs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import GitError
from ..scan.sensitive import is_sensitive_path
from . import listing as gitdiff
from . import process as gitcli
from .language import language_of
from .model import Changes, FileDiff, Hunk, Line
from .patch import parse_patch
from .process import PathArg, repo_root

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "EMPTY_TREE",
    "Changes",
    "FileDiff",
    "Hunk",
    "Line",
    "PathArg",
    "all_files",
    "conflicts",
    "file_text",
    "file_texts",
    "from_env",
    "in_merge",
    "language_of",
    "operation_in_progress",
    "parse_patch",
    "repo_root",
    "revision_range",
    "staged",
]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
DEFAULT_MAX_FILE_BYTES = 1 << 20


def staged(
    *,
    context: int = 1,
    paths: Sequence[PathArg] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> Changes:
    """The index against HEAD (against the empty tree before the first commit): what will be committed.

    Honors GIT_INDEX_FILE (`git commit -a` / `git commit <path>`). During a merge, unmerged paths are
    skipped ("unmerged") and resolved ones reviewed.
    """
    return gitdiff.collect(
        ["--cached"], "staged", context=context, paths=paths, include=include, exclude=exclude,
        max_file_bytes=max_file_bytes, root=repo_root(cwd), cwd=cwd, cached=True,
    )  # fmt: skip


def _check_rev(rev: str, spec: str) -> None:
    if not rev or rev.startswith("-") or any(c.isspace() or c == "\0" for c in rev):
        raise GitError(f"bad revision {rev!r} in {spec!r}: expected A..B or A...B")


def _resolve(revs: Sequence[str], spec: str, root: Path) -> list[str]:
    """Commit ids for `revs` (the empty tree stays itself). GitError naming the range otherwise."""
    out: list[str] = []
    for rev in revs:
        _check_rev(rev, spec)
        if rev == EMPTY_TREE:
            out.append(rev)
            continue
        code, sha = gitcli.run(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], cwd=root, ok=(0, 1, 128))
        if code != 0:
            raise GitError(f"bad revision {rev!r} in {spec!r}: not a commit in this repository")
        out.append(sha.decode("ascii", "replace").strip())
    return out


def _split_range(spec: str) -> tuple[str, str, bool]:
    """("A", "B", symmetric) from "A..B" / "A...B"; an empty side means HEAD, as in git."""
    if "..." in spec:
        a, _, b = spec.partition("...")
        return a or "HEAD", b or "HEAD", True
    if ".." in spec:
        a, _, b = spec.partition("..")
        return a or "HEAD", b or "HEAD", False
    raise GitError(f"not a revision range: {spec!r} (expected A..B, or A...B for changes since the merge base)")


def revision_range(
    spec: str,
    *,
    context: int = 1,
    paths: Sequence[PathArg] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> Changes:
    """The changes of "A..B" (B against A) or "A...B" (B against the merge base of A and B)."""
    a, b, symmetric = _split_range(spec)
    root = repo_root(cwd)
    a_sha, b_sha = _resolve([a, b], spec, root)
    if symmetric:
        code, base = gitcli.run(["merge-base", a_sha, b_sha], cwd=root, ok=(0, 1))
        if code != 0 or not base.strip():
            raise GitError(f"no merge base between {a!r} and {b!r} in {spec!r}: use A..B instead")
        a_sha = base.decode("ascii", "replace").strip()
    return gitdiff.collect(
        [a_sha, b_sha], spec, context=context, paths=paths, include=include, exclude=exclude,
        max_file_bytes=max_file_bytes, root=root, cwd=cwd, cached=False,
    )  # fmt: skip


def from_env(
    environ: Mapping[str, str] | None = None,
    *,
    context: int = 1,
    paths: Sequence[PathArg] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> Changes | None:
    """The range pre-commit was asked for (`--from-ref/--to-ref`, pre-push), or None when not set.

    pre-commit diffs `FROM...TO` (docs/reference.md#git-inputs); an all-zero FROM (a new branch) means every
    file of TO.
    """
    env = os.environ if environ is None else environ
    frm = env.get("PRE_COMMIT_FROM_REF") or env.get("PRE_COMMIT_SOURCE")
    to = env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_ORIGIN")
    if not frm or not to:
        return None
    spec = f"{EMPTY_TREE}..{to}" if set(frm) == {"0"} else f"{frm}...{to}"
    return revision_range(
        spec, context=context, paths=paths, include=include, exclude=exclude, max_file_bytes=max_file_bytes,
        cwd=cwd,
    )  # fmt: skip


def all_files(
    paths: Sequence[PathArg] = (),
    *,
    context: int = 1,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> Changes:
    """Every tracked file (its index version) as wholly added: the index against the empty tree."""
    return gitdiff.collect(
        ["--cached", EMPTY_TREE], "all-files", context=context, paths=paths, include=include, exclude=exclude,
        max_file_bytes=max_file_bytes, root=repo_root(cwd), cwd=cwd, cached=True,
    )  # fmt: skip


def file_text(
    path: str,
    source: str = "staged",
    *,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> str | None:
    """The content the review sees, for analyzers: the index version for "staged" and "all-files",
    the B side for a range "A..B" / "A...B". None for a missing, binary, too large or sensitive file.

    `path` is repo-relative, as in `FileDiff.path`. Never reads the work tree, never follows a symlink.
    For several files use `file_texts`: the same three git calls serve any number of files.
    """
    return file_texts([path], source, max_bytes=max_bytes, cwd=cwd)[path]


def file_texts(
    paths: Iterable[str],
    source: str = "staged",
    *,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    cwd: PathArg | None = None,
) -> dict[str, str | None]:
    """`file_text` for many paths at once: {path: text or None}, in three git calls in all."""
    result: dict[str, str | None] = dict.fromkeys(paths)
    wanted = [p for p in result if not is_sensitive_path(p)]
    if not wanted:
        return result
    root = repo_root(cwd)
    rev = "" if source in ("staged", "all-files") else _split_range(source)[1]
    if rev:
        _check_rev(rev, source)
    # --batch-check reads one object name per line: a path with a newline is asked for on its own
    lined = [p for p in wanted if "\n" not in p]
    sizes: dict[str, tuple[str, int]] = {}
    if lined:
        names = b"".join(f"{rev}:{p}".encode("utf-8", "surrogateescape") + b"\n" for p in lined)
        _, out = gitcli.run(
            ["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd=root, stdin=names
        )
        for p, line in zip(lined, out.split(b"\n"), strict=False):
            parts = line.split()
            if len(parts) == 3 and parts[1] == b"blob" and parts[2].isdigit():
                sizes[p] = (parts[0].decode("ascii"), int(parts[2]))
    for p in wanted:
        if "\n" in p:
            code, out = gitcli.run(["rev-parse", "-q", "--verify", f"{rev}:{p}".encode("utf-8", "surrogateescape")],
                             cwd=root, ok=(0, 1, 128))  # fmt: skip
            code_s, raw_size = (
                gitcli.run(["cat-file", "-s", out.strip()], cwd=root, ok=(0, 1, 128)) if code == 0 else (1, b"")
            )
            if code_s == 0 and raw_size.strip().isdigit():
                sizes[p] = (out.strip().decode("ascii"), int(raw_size))
    small = {p: sha for p, (sha, size) in sizes.items() if size <= max_bytes}
    if not small:
        return result
    _, out = gitcli.run(
        ["cat-file", "--batch"], cwd=root, stdin="".join(f"{sha}\n" for sha in dict.fromkeys(small.values())).encode()
    )
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        eol = out.find(b"\n", pos)
        if eol == -1:
            break
        parts = out[pos:eol].split()
        pos = eol + 1
        if len(parts) != 3 or not parts[2].isdigit():
            continue  # "<sha> missing"
        size = int(parts[2])
        blobs[parts[0].decode("ascii")] = out[pos : pos + size]
        pos += size + 1
    for p, sha in small.items():
        blob = blobs.get(sha)
        if blob is not None and b"\0" not in blob[:8000]:
            result[p] = blob.decode("utf-8", "replace")
    return result


def in_merge(*, cwd: PathArg | None = None) -> bool:
    """A merge is in progress (MERGE_HEAD exists)."""
    repo_root(cwd)
    code, _ = gitcli.run(["rev-parse", "-q", "--verify", "MERGE_HEAD"], cwd=cwd, ok=(0, 1, 128))
    return code == 0


def conflicts(*, cwd: PathArg | None = None) -> tuple[str, ...]:
    """Paths with unresolved conflicts (index stages 1-3), sorted."""
    root = repo_root(cwd)
    _, out = gitcli.run(["ls-files", "-u", "-z"], cwd=root)
    paths = {os.fsdecode(rec.split(b"\t", 1)[1]) for rec in out.split(b"\0") if b"\t" in rec}
    return tuple(sorted(paths))


def operation_in_progress(*, cwd: PathArg | None = None) -> str | None:
    """ "merge", "rebase", "cherry-pick", "revert" or "bisect" when git is in the middle of one, else None."""
    root = repo_root(cwd)
    _, out = gitcli.run(["rev-parse", "--absolute-git-dir"], cwd=root)
    git_dir = Path(os.fsdecode(out.rstrip(b"\n")))
    for marker, name in (
        ("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"), ("BISECT_LOG", "bisect"),
    ):  # fmt: skip
        if (git_dir / marker).exists():
            return name
    return None
