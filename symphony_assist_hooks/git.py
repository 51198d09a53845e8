"""The only git access: the git CLI through one subprocess wrapper (`_git`), never GitPython.

Stdlib only: this runs on the hook's cache-hit path (DESIGN.md, PERFORMANCE.md §5).

How a diff is read (RELIABILITY.md §7):
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
the staged diff is that index (RELIABILITY.md §0.9).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .errors import GitError
from .redact import is_sensitive_path

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "EMPTY_TREE",
    "Changes",
    "FileDiff",
    "Hunk",
    "Line",
    "all_files",
    "conflicts",
    "file_text",
    "file_texts",
    "from_env",
    "in_merge",
    "operation_in_progress",
    "parse_patch",
    "repo_root",
    "revision_range",
    "staged",
]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
DEFAULT_MAX_FILE_BYTES = 1 << 20
_NULL_SHA = "0" * 40
_SUBMODULE, _SYMLINK = "160000", "120000"

PathArg = str | os.PathLike[str]


# ---------------------------------------------------------------------------------------------- model
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
        """The hunk with hunk-local line numbers starting at 1, independent of where the hunk sits.

        New-side lines (context and added) are numbered 1..n; removed lines carry no number:
            1  def total(xs):
              -    return sum(xs)
            2 +    return math.fsum(xs)
        A hunk that only moved (an edit above it, a rebase) renders identically.
        """
        count = sum(1 for ln in self.lines if ln.kind != "-")
        width = len(str(count)) if count else 1
        out: list[str] = []
        local = 0
        for ln in self.lines:
            if ln.kind == "-":
                out.append(f"{'':>{width}} -{ln.text}")
            else:
                local += 1
                out.append(f"{local:>{width}} {ln.kind}{ln.text}")
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


# ---------------------------------------------------------------------------------------------- the wrapper
# Pin everything the user's config could change in the output (RELIABILITY.md §7, "User git config").
_GLOBAL = (
    "-c", "core.quotepath=off",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "color.ui=never",
    "--no-pager",
    "--literal-pathspecs",
)  # fmt: skip
_DIFF = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "-M",
    "--no-relative",
    "--submodule=short",
    "--diff-algorithm=default",
    "--ignore-submodules=none",
)
# Environment variables that change diff output; everything else (GIT_INDEX_FILE, GIT_DIR, ...) is kept.
_DROP_ENV = ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never take index.lock: `git commit` holds it while hooks run
    env["GIT_TERMINAL_PROMPT"] = "0"
    index = env.get("GIT_INDEX_FILE")
    if index and not os.path.isabs(index):  # relative to the hook's cwd; we may run git elsewhere
        env["GIT_INDEX_FILE"] = os.path.abspath(index)
    return env


def _git_message(stderr: bytes) -> str:
    """git's own error, as one line: the first fatal:/error: line, else the first non-empty one."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:")):
            return ln[:300]
    return lines[0][:300] if lines else "no message"


def _git(
    args: Sequence[str | bytes],
    *,
    cwd: PathArg | None = None,
    stdin: bytes | None = None,
    ok: tuple[int, ...] = (0,),
) -> tuple[int, bytes]:
    """Run git; return (exit code, stdout bytes). An exit code outside `ok` raises GitError."""
    cmd: list[str | bytes] = ["git", *_GLOBAL, *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, env=_env(), check=False)
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise GitError(f"not inside a git work tree: {os.fspath(cwd)!r} is not a directory") from None
        raise GitError("git is not installed or not on PATH: install git, or fix PATH") from None
    except OSError as exc:
        raise GitError(f"could not run git: {exc.strerror or exc}") from None
    if proc.returncode not in ok:
        message = _git_message(proc.stderr)
        verb = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if "dubious ownership" in message:
            raise GitError(f"git refuses this repository ({message}); if you trust it, run the "
                           "`git config --global --add safe.directory` command git suggests")  # fmt: skip
        raise GitError(f"git {verb} failed: {message}")
    return proc.returncode, proc.stdout


def repo_root(cwd: PathArg | None = None) -> Path:
    """The top of the work tree containing `cwd` (default: the current directory). GitError otherwise."""
    try:
        _, out = _git(["rev-parse", "--is-inside-work-tree", "--show-toplevel"], cwd=cwd)
    except GitError as exc:
        if "git is not installed" in str(exc):
            raise
        raise GitError(f"not inside a git work tree: {str(exc).removeprefix('git rev-parse failed: ')}") from None
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or lines[0] != "true":
        raise GitError("not inside a git work tree (a bare repository or the .git directory)")
    return Path(lines[1])


# ---------------------------------------------------------------------------------------------- raw listing
@dataclass(frozen=True)
class _Entry:
    status: str  # one letter
    src_mode: str
    dst_mode: str
    src_sha: str
    dst_sha: str
    old: bytes  # the source path (== new unless renamed/copied)
    new: bytes

    @property
    def path(self) -> str:
        return os.fsdecode(self.new)


def _parse_raw(out: bytes) -> list[_Entry]:
    """`git diff --raw -z`: ":srcmode dstmode srcsha dstsha STATUS[score]\\0path\\0[path2\\0]"."""
    tokens = out.split(b"\0")
    entries: list[_Entry] = []
    i = 0
    while i < len(tokens):
        meta = tokens[i]
        i += 1
        if not meta.startswith(b":"):
            continue
        parts = meta[1:].decode("ascii", "replace").split()
        if len(parts) < 5 or i >= len(tokens):
            continue
        src_mode, dst_mode, src_sha, dst_sha, status = parts[:5]
        letter = status[:1]
        old = new = tokens[i]
        i += 1
        if letter in ("R", "C") and i < len(tokens):
            new = tokens[i]
            i += 1
        entries.append(_Entry(letter, src_mode, dst_mode, src_sha, dst_sha, old, new))
    return entries


# ---------------------------------------------------------------------------------------------- skip rules
_LOCK_FILES = frozenset({
    "poetry.lock", "package-lock.json", "uv.lock", "pipfile.lock", "yarn.lock", "cargo.lock", "pnpm-lock.yaml",
    "composer.lock", "gemfile.lock", "go.sum", "npm-shrinkwrap.json", "bun.lockb", "bun.lock", "pdm.lock",
    "conda-lock.yml", "packages.lock.json", "gradle.lockfile", "package.resolved", "mix.lock", "pubspec.lock",
    "podfile.lock", "flake.lock", "deno.lock",
})  # fmt: skip
_VENDOR_DIRS = frozenset({
    "vendor", "vendored", "node_modules", "third_party", "third-party", "thirdparty", "bower_components",
    "_vendor", ".venv", "venv", "site-packages", "__pypackages__", "pods",
})  # fmt: skip
_GENERATED_GLOBS = (
    "*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*.pb.go", "*.pb.cc", "*.pb.h", "*.pb.swift", "*.g.dart",
    "*.freezed.dart", "*.generated.*", "*_generated.*", "*.designer.cs", "*.map", "*.snap",
)  # fmt: skip
_MINIFIED_GLOBS = ("*.min.js", "*.min.mjs", "*.min.css", "*-min.js", "*.bundle.js", "*.bundle.css")
_MINIFIABLE = (".js", ".mjs", ".cjs", ".css", ".json", ".svg")
_MINIFIED_LINE = 1000  # an added line this long in a js/css/json file: minified output, not source
_GENERATED_MARK = re.compile(
    r"@generated|do not edit|auto-?generated|code generated by|this file (?:is|was) (?:automatically )?generated"
    r"|^\W*generated by ",
    re.IGNORECASE | re.MULTILINE,
)

_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".rb": "ruby",
    ".php": "php", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".cs": "csharp", ".swift": "swift", ".m": "objective-c", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".ps1": "powershell", ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss",
    ".vue": "vue", ".svelte": "svelte", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".xml": "xml", ".md": "markdown", ".rst": "rst", ".tf": "terraform",
    ".lua": "lua", ".r": "r", ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang",
    ".hs": "haskell", ".ml": "ocaml", ".clj": "clojure", ".pl": "perl", ".proto": "protobuf",
    ".graphql": "graphql", ".j2": "jinja", ".jinja": "jinja",
}  # fmt: skip
_LANGUAGE_NAMES = {"dockerfile": "dockerfile", "makefile": "make", "gnumakefile": "make", "jenkinsfile": "groovy"}


def language_of(path: str) -> str:
    """A language name from the file name ("python", "javascript", ...), "text" when unknown."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[name]
    _, dot, ext = name.rpartition(".")
    return _LANGUAGES.get("." + ext, "text") if dot else "text"


def _matches(path: str, patterns: Iterable[str]) -> bool:
    """fnmatch on the repo-relative path, on its file name, and `dir/` as a prefix."""
    name = path.rsplit("/", 1)[-1]
    for pat in patterns:
        if pat.endswith("/"):
            if path.startswith(pat) or f"/{pat}" in f"/{path}":
                return True
        elif fnmatchcase(path, pat) or fnmatchcase(name, pat):
            return True
    return False


def _name_reason(path: str, attrs: Mapping[str, frozenset[str]]) -> str | None:
    """Skip reasons decided by the path alone (and `linguist-*` attributes)."""
    if is_sensitive_path(path):
        return "sensitive"
    parts = path.lower().split("/")
    name = parts[-1]
    if name in _LOCK_FILES or name.endswith((".lock", ".lockfile")):
        return "lock-file"
    marks = attrs.get(path, frozenset())
    if "linguist-vendored" in marks or any(p in _VENDOR_DIRS for p in parts[:-1]):
        return "vendored"
    if "linguist-generated" in marks or any(fnmatchcase(name, g) for g in _GENERATED_GLOBS):
        return "generated"
    if any(fnmatchcase(name, g) for g in _MINIFIED_GLOBS):
        return "minified"
    return None


def _entry_reason(e: _Entry, include: Sequence[str], exclude: Sequence[str]) -> str | None:
    """Skip reasons decided from the raw listing, before anything else is asked of git."""
    if e.status == "U":
        return "unmerged"
    path = e.path
    if (include and not _matches(path, include)) or (exclude and _matches(path, exclude)):
        return "excluded"
    if _SUBMODULE in (e.src_mode, e.dst_mode):
        return "submodule"
    if e.status == "D":
        return "deleted"
    if e.dst_mode == _SYMLINK:
        return "symlink"
    if e.status == "M" and e.src_sha == e.dst_sha and e.src_mode != e.dst_mode:
        return "mode-only"
    if e.status in ("R", "C") and e.src_sha == e.dst_sha:
        return "rename-only" if e.src_mode == e.dst_mode else "mode-only"
    return None


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
    _, out = _git(args, cwd=root, stdin=b"\0".join(paths) + b"\0")
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
    _, out = _git(["cat-file", "--batch-check"], cwd=root, stdin="".join(s + "\n" for s in wanted).encode())
    sizes: dict[str, int] = {}
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            sizes[parts[0]] = int(parts[2])
    return sizes


# ---------------------------------------------------------------------------------------------- patch parsing
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_SECTION_START = re.compile(rb"^diff --git ", re.MULTILINE)
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass
class _Section:
    header: bytes
    meta: dict[str, str] = field(default_factory=dict)  # extended header lines: "new file mode" -> "100644"
    binary: bool = False
    hunks: list[tuple[str, int, int, int, int, list[tuple[str, str]]]] = field(default_factory=list)


def _split_sections(data: bytes) -> list[bytes]:
    starts = [m.start() for m in _SECTION_START.finditer(data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=False)]


_META_KEYS = (
    "old mode", "new mode", "deleted file mode", "new file mode", "copy from", "copy to", "rename from",
    "rename to", "similarity index", "dissimilarity index", "index", "---", "+++",
)  # fmt: skip


def _parse_section(section: bytes) -> _Section:
    """One `diff --git` section. Never raises: malformed input yields fewer or shorter hunks."""
    head, _, _ = section.partition(b"\n")
    out = _Section(header=head)
    lines = section.decode("utf-8", "replace").split("\n")
    i, n = 1, len(lines)
    while i < n and not lines[i].startswith("@@ "):  # extended header
        line = lines[i]
        if line.startswith(("Binary files ", "GIT binary patch")):
            out.binary = True
        else:
            for key in _META_KEYS:
                if line.startswith(key + " "):
                    out.meta.setdefault(key, line[len(key) + 1 :])
                    break
        i += 1
    while i < n:
        m = _HUNK.match(lines[i])
        if m is None:
            i += 1
            continue
        old_start, new_start = int(m.group(1)), int(m.group(3))
        old_len = int(m.group(2)) if m.group(2) is not None else 1
        new_len = int(m.group(4)) if m.group(4) is not None else 1
        header = lines[i]
        i += 1
        body: list[tuple[str, str]] = []
        old_left, new_left = old_len, new_len
        while i < n and (old_left > 0 or new_left > 0):
            line = lines[i]
            kind = line[:1] or " "  # an empty line is an empty context line (diff.suppressBlankEmpty)
            if kind == "\\":  # "\ No newline at end of file"
                i += 1
                continue
            if kind == " ":
                old_left -= 1
                new_left -= 1
            elif kind == "-":
                old_left -= 1
            elif kind == "+":
                new_left -= 1
            else:
                break  # malformed: the hunk ends early
            text = line[1:]
            body.append((kind, text[:-1] if text.endswith("\r") else text))
            i += 1
        while i < n and lines[i].startswith("\\"):
            i += 1
        out.hunks.append((header, old_start, old_len, new_start, new_len, body))
    return out


def _hunks(path: str, section: _Section) -> tuple[Hunk, ...]:
    result: list[Hunk] = []
    for header, old_start, old_len, new_start, new_len, body in section.hunks:
        old_no, new_no = old_start, new_start
        lines: list[Line] = []
        for kind, text in body:
            if kind == " ":
                lines.append(Line(kind, text, old_no, new_no))
                old_no += 1
                new_no += 1
            elif kind == "-":
                lines.append(Line(kind, text, old_no, None))
                old_no += 1
            else:
                lines.append(Line(kind, text, None, new_no))
                new_no += 1
        result.append(Hunk(path, old_start, old_len, new_start, new_len, header, tuple(lines)))
    return tuple(result)


def _quote(prefix: bytes, path: bytes) -> bytes:
    """A path as git prints it in a `diff --git` header (C-style quoted if needed, core.quotepath=off)."""
    name = prefix + path
    if not any(b < 0x20 or b in (0x22, 0x5C, 0x7F) for b in name):
        return name
    out = bytearray(b'"')
    for b in name:
        if b in (0x22, 0x5C):
            out += b"\\" + bytes([b])
        elif b < 0x20 or b == 0x7F:
            letter = {7: b"a", 8: b"b", 9: b"t", 10: b"n", 11: b"v", 12: b"f", 13: b"r"}.get(b)
            out += b"\\" + (letter or f"{b:03o}".encode())
        else:
            out.append(b)
    return bytes(out + b'"')


def _unquote(text: str) -> str:
    """Undo git's C-style quoting of a path ("a/new\\nline" -> a/new<LF>line); unquoted text unchanged."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    raw = bytearray()
    body = text[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _C_ESCAPES:
                raw.append(_C_ESCAPES[nxt])
                i += 2
                continue
            octal = body[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                raw.append(int(octal, 8) & 0xFF)
                i += 4
                continue
        raw += ch.encode("utf-8", "surrogateescape")
        i += 1
    return os.fsdecode(bytes(raw))


def _header(e: _Entry) -> bytes:
    """The `diff --git` line git prints for this entry."""
    return b"diff --git " + _quote(b"a/", e.old) + b" " + _quote(b"b/", e.new)


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def parse_patch(data: bytes | str) -> tuple[FileDiff, ...]:
    """Parse any unified diff with `diff --git` headers (e.g. from a file). Never raises.

    The git functions above do not need it for paths (they take them from `--raw -z`); this is for
    diffs from elsewhere, with paths read best-effort from the `+++`/`---`/rename lines or the header.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    files: list[FileDiff] = []
    for raw in _split_sections(data):
        sec = _parse_section(raw)
        meta = sec.meta
        header = sec.header.decode("utf-8", "replace")[len("diff --git ") :]
        old = new = None
        if "rename to" in meta or "copy to" in meta:
            new = _unquote(meta.get("rename to") or meta.get("copy to") or "")
            old = _unquote(meta.get("rename from") or meta.get("copy from") or "")
        else:
            plus, minus = meta.get("+++", ""), meta.get("---", "")
            if plus and plus != "/dev/null":
                new = _strip_prefix(_unquote(plus.split("\t")[0]))
            elif minus and minus != "/dev/null":
                new = _strip_prefix(_unquote(minus.split("\t")[0]))
            elif header.startswith('"'):
                new = _strip_prefix(_unquote(header[: header.find('"', 1) + 1]))
            else:
                half = header[: len(header) // 2] if " b/" not in header else header.split(" b/", 1)[0]
                new = _strip_prefix(half)
        path = new or ""
        status = "M"
        if "new file mode" in meta:
            status = "A"
        elif "deleted file mode" in meta:
            status = "D"
        elif "rename to" in meta:
            status = "R"
        elif "copy to" in meta:
            status = "C"
        modes = " ".join(meta.get(k, "") for k in ("new file mode", "deleted file mode", "new mode", "index"))
        hunks = _hunks(path, sec)
        files.append(
            FileDiff(
                path=path,
                old_path=old if status in ("R", "C") else None,
                status=status,
                hunks=hunks,
                binary=sec.binary,
                mode_only="old mode" in meta and not hunks and not sec.binary,
                submodule=_SUBMODULE in modes,
                symlink=_SYMLINK in modes,
                language=language_of(path),
            )
        )
    return tuple(files)


# ---------------------------------------------------------------------------------------------- collecting
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
    root: Path, diff_args: Sequence[str], context: int, entries: Sequence[_Entry]
) -> dict[bytes, list[_Section]]:
    """The patch of `entries` only, as sections keyed by the `diff --git` line git prints for each."""
    if not entries:
        return {}
    headers = {_header(e) for e in entries}
    sections: dict[bytes, list[_Section]] = {}
    for chunk in _pathspec_chunks([tuple(dict.fromkeys((e.old, e.new))) for e in entries]):
        _, patch = _git(["diff", *diff_args, f"-U{context}", "-p", *_DIFF, "--", *chunk], cwd=root)
        for raw_section in _split_sections(patch):
            sec = _parse_section(raw_section)
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


def _collect(
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
    _, raw = _git(["diff", *diff_args, "--raw", "-z", "--no-abbrev", *_DIFF], cwd=root)
    entries = _parse_raw(raw)
    if paths:
        files, dirs = _rel_paths(root, cwd, paths)
        if files:
            entries = [e for e in entries if e.path in files or e.path.startswith(dirs)]

    omitted: list[tuple[str, str]] = []
    candidates: list[_Entry] = []
    deleted: list[_Entry] = []
    for e in entries:
        reason = _entry_reason(e, include, exclude)
        if reason is None:
            candidates.append(e)
        else:
            omitted.append((e.path, reason))
            if reason == "deleted" and e.src_mode != _SYMLINK and not is_sensitive_path(e.path):
                deleted.append(e)

    attrs = _attributes(root, [e.new for e in candidates], cached) if candidates else {}
    kept: list[_Entry] = []
    for e in candidates:
        reason = _name_reason(e.path, attrs)
        if reason is None:
            kept.append(e)
        else:
            omitted.append((e.path, reason))

    sizes = _sizes(root, [e.dst_sha for e in kept] + [e.src_sha for e in deleted])
    small: list[_Entry] = []
    for e in kept:
        if sizes.get(e.dst_sha, 0) > max_file_bytes:
            omitted.append((e.path, "too-large"))
        else:
            small.append(e)
    deleted = [e for e in deleted if sizes.get(e.src_sha, 0) <= max_file_bytes]

    sections = _read_sections(root, diff_args, context, [*small, *deleted])
    reviewable: list[FileDiff] = []
    for e in small:
        secs = sections.get(_header(e), [])
        if e.status == "T":  # file <-> symlink: git prints a deletion and a creation; review the creation
            secs = [s for s in secs if "deleted file mode" not in s.meta]
        path = e.path
        file = FileDiff(
            path=path,
            old_path=os.fsdecode(e.old) if e.status in ("R", "C") else None,
            status=e.status,
            hunks=tuple(h for s in secs for h in _hunks(path, s)),
            binary=any(s.binary for s in secs),
            language=language_of(path),
        )
        reason = _content_reason(file, secs)
        if reason is None:
            reviewable.append(file)
        else:
            omitted.append((path, reason))

    removed: list[FileDiff] = []
    for e in deleted:
        secs = [s for s in sections.get(_header(e), []) if not s.binary]
        hunks = tuple(h for s in secs for h in _hunks(e.path, s))
        if hunks:
            removed.append(FileDiff(e.path, None, "D", hunks, language=language_of(e.path)))
    skipped: dict[str, int] = {}
    for _, reason in omitted:
        skipped[reason] = skipped.get(reason, 0) + 1
    return Changes(tuple(reviewable), skipped, source, deleted=tuple(removed), omitted=tuple(omitted))


def _content_reason(file: FileDiff, sections: Sequence[_Section]) -> str | None:
    """Skip reasons that need the patch: binary, generated markers, minified output, nothing to review."""
    if not sections:
        return "unparsed"
    if file.binary:
        return "binary"
    if not file.hunks:
        return "empty"
    head = [ln.text for h in file.hunks if h.new_start <= 1 for ln in h.lines if ln.new_no and ln.new_no <= 5]
    if head and _GENERATED_MARK.search("\n".join(head)):
        return "generated"
    if file.path.lower().endswith(_MINIFIABLE) and any(
        len(ln.text) > _MINIFIED_LINE for h in file.hunks for ln in h.lines if ln.kind == "+"
    ):
        return "minified"
    return None


# ---------------------------------------------------------------------------------------------- public readers
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
    return _collect(
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
        code, sha = _git(["rev-parse", "-q", "--verify", f"{rev}^{{commit}}"], cwd=root, ok=(0, 1, 128))
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
        code, base = _git(["merge-base", a_sha, b_sha], cwd=root, ok=(0, 1))
        if code != 0 or not base.strip():
            raise GitError(f"no merge base between {a!r} and {b!r} in {spec!r}: use A..B instead")
        a_sha = base.decode("ascii", "replace").strip()
    return _collect(
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

    pre-commit diffs `FROM...TO` (CONVENTIONS.md §1.5); an all-zero FROM (a new branch) means every
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
    return _collect(
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
        _, out = _git(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], cwd=root, stdin=names)
        for p, line in zip(lined, out.split(b"\n"), strict=False):
            parts = line.split()
            if len(parts) == 3 and parts[1] == b"blob" and parts[2].isdigit():
                sizes[p] = (parts[0].decode("ascii"), int(parts[2]))
    for p in wanted:
        if "\n" in p:
            code, out = _git(["rev-parse", "-q", "--verify", f"{rev}:{p}".encode("utf-8", "surrogateescape")],
                             cwd=root, ok=(0, 1, 128))  # fmt: skip
            code_s, raw_size = (
                _git(["cat-file", "-s", out.strip()], cwd=root, ok=(0, 1, 128)) if code == 0 else (1, b"")
            )
            if code_s == 0 and raw_size.strip().isdigit():
                sizes[p] = (out.strip().decode("ascii"), int(raw_size))
    small = {p: sha for p, (sha, size) in sizes.items() if size <= max_bytes}
    if not small:
        return result
    _, out = _git(
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
    code, _ = _git(["rev-parse", "-q", "--verify", "MERGE_HEAD"], cwd=cwd, ok=(0, 1, 128))
    return code == 0


def conflicts(*, cwd: PathArg | None = None) -> tuple[str, ...]:
    """Paths with unresolved conflicts (index stages 1-3), sorted."""
    root = repo_root(cwd)
    _, out = _git(["ls-files", "-u", "-z"], cwd=root)
    paths = {os.fsdecode(rec.split(b"\t", 1)[1]) for rec in out.split(b"\0") if b"\t" in rec}
    return tuple(sorted(paths))


def operation_in_progress(*, cwd: PathArg | None = None) -> str | None:
    """ "merge", "rebase", "cherry-pick", "revert" or "bisect" when git is in the middle of one, else None."""
    root = repo_root(cwd)
    _, out = _git(["rev-parse", "--absolute-git-dir"], cwd=root)
    git_dir = Path(os.fsdecode(out.rstrip(b"\n")))
    for marker, name in (
        ("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"), ("BISECT_LOG", "bisect"),
    ):  # fmt: skip
        if (git_dir / marker).exists():
            return name
    return None
