"""git's diff output, parsed: the `--raw -z` listing (`Entry`) and unified patches (`Section`, `parse_patch`).

Pure: no git process, no file access. `parse_patch` (re-exported by `git.py`) never raises.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .language import language_of
from .model import FileDiff, Hunk, Line

__all__ = [
    "SUBMODULE",
    "SYMLINK",
    "Entry",
    "Section",
    "diff_header",
    "parse_patch",
    "parse_raw",
    "parse_section",
    "section_hunks",
    "split_sections",
]

SUBMODULE, SYMLINK = "160000", "120000"  # git's file modes for a gitlink and a symbolic link


# ---------------------------------------------------------------------------------------------- raw listing
@dataclass(frozen=True)
class Entry:
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


def parse_raw(out: bytes) -> list[Entry]:
    """`git diff --raw -z`: ":srcmode dstmode srcsha dstsha STATUS[score]\\0path\\0[path2\\0]"."""
    tokens = out.split(b"\0")
    entries: list[Entry] = []
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
        entries.append(Entry(letter, src_mode, dst_mode, src_sha, dst_sha, old, new))
    return entries


# ---------------------------------------------------------------------------------------------- patch parsing
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_SECTION_START = re.compile(rb"^diff --git ", re.MULTILINE)
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass
class Section:
    header: bytes
    meta: dict[str, str] = field(default_factory=dict)  # extended header lines: "new file mode" -> "100644"
    binary: bool = False
    hunks: list[tuple[str, int, int, int, int, list[tuple[str, str]]]] = field(default_factory=list)


def split_sections(data: bytes) -> list[bytes]:
    starts = [m.start() for m in _SECTION_START.finditer(data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=False)]


_META_KEYS = (
    "old mode", "new mode", "deleted file mode", "new file mode", "copy from", "copy to", "rename from",
    "rename to", "similarity index", "dissimilarity index", "index", "---", "+++",
)  # fmt: skip


def parse_section(section: bytes) -> Section:
    """One `diff --git` section. Never raises: malformed input yields fewer or shorter hunks."""
    head, _, _ = section.partition(b"\n")
    out = Section(header=head)
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


def section_hunks(path: str, section: Section) -> tuple[Hunk, ...]:
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


def diff_header(e: Entry) -> bytes:
    """The `diff --git` line git prints for this entry."""
    return b"diff --git " + _quote(b"a/", e.old) + b" " + _quote(b"b/", e.new)


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def parse_patch(data: bytes | str) -> tuple[FileDiff, ...]:
    """Parse any unified diff with `diff --git` headers (e.g. from a file). Never raises.

    `git.py`'s readers do not need it for paths (they take them from `--raw -z`); this is for
    diffs from elsewhere, with paths read best-effort from the `+++`/`---`/rename lines or the header.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    files: list[FileDiff] = []
    for raw in split_sections(data):
        sec = parse_section(raw)
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
        hunks = section_hunks(path, sec)
        files.append(
            FileDiff(
                path=path,
                old_path=old if status in ("R", "C") else None,
                status=status,
                hunks=hunks,
                binary=sec.binary,
                mode_only="old mode" in meta and not hunks and not sec.binary,
                submodule=SUBMODULE in modes,
                symlink=SYMLINK in modes,
                language=language_of(path),
            )
        )
    return tuple(files)
