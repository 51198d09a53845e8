"""Loading labelled cases: the `.case` and `.jsonl` formats (documented in the package docstring)."""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import UsageError
from ..families import ALIASES, FAMILIES, FAMILY_NAMES, category_of
from ..findings import Failure, Finding
from ..git import changes as git

__all__ = ["FAKE_SECRETS", "THRESHOLDS", "TOLERANCE", "Case", "Span", "load_cases", "load_thresholds"]

TOLERANCE = 1
THRESHOLDS = "thresholds.json"

_UPPER_DIGITS = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pem(rng: random.Random) -> str:
    label = "RSA " + "PRIVATE KEY"  # split so this file never holds the marker a secret scanner greps for
    body = "\n".join(_pick(rng, _ALNUM + "+/", 64) for _ in range(8))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


# Vendor prefixes are concatenated so no literal token pattern appears in the repository.
FAKE_SECRETS: dict[str, Callable[[random.Random], str]] = {
    "FAKE_AWS_KEY": lambda r: "AK" + "IA" + _pick(r, _UPPER_DIGITS, 16),
    "FAKE_AWS_SECRET": lambda r: _pick(r, _ALNUM + "+/", 40),
    "FAKE_GITHUB_TOKEN": lambda r: "gh" + "p_" + _pick(r, _ALNUM, 36),
    "FAKE_SLACK_TOKEN": lambda r: (
        "xo" + "xb-" + _pick(r, string.digits, 11) + "-" + _pick(r, string.digits, 13) + "-" + _pick(r, _ALNUM, 24)
    ),
    "FAKE_OPENAI_KEY": lambda r: "sk-" + _pick(r, _ALNUM, 20) + "T3Blbk" + "FJ" + _pick(r, _ALNUM, 20),
    "FAKE_STRIPE_KEY": lambda r: "sk" + "_live_" + _pick(r, _ALNUM, 24),
    "FAKE_PASSWORD": lambda r: _pick(r, _ALNUM, 10) + "!" + _pick(r, string.digits, 3) + _pick(r, _ALNUM, 3),
    "FAKE_PRIVATE_KEY": _pem,
}
_PLACEHOLDER = re.compile(r"\{\{(FAKE_[A-Z_]+)\}\}")


def _expand(text: str, case_id: str, where: str, *, diff: bool) -> str:
    """Placeholders replaced by seeded fake secrets; in a diff, added lines keep their line's prefix."""
    if "{{" not in text:
        return text
    count = 0

    def value(m: re.Match[str]) -> str:
        nonlocal count
        maker = FAKE_SECRETS.get(m.group(1))
        if maker is None:
            raise UsageError(f"eval case {where}: unknown placeholder {m.group(0)} (known: {', '.join(FAKE_SECRETS)})")
        count += 1
        # Reproducible fake data, not a secret: the same case must see the same text on every run.
        return maker(random.Random(f"{case_id}#{count}"))  # noqa: S311

    out: list[str] = []
    for line in text.split("\n"):
        expanded = _PLACEHOLDER.sub(value, line)
        if diff and "\n" in expanded and line[:1] in ("+", "-", " "):
            expanded = expanded.replace("\n", "\n" + line[0])
        out.append(expanded)
    return "\n".join(out)


@dataclass(frozen=True)
class Span:
    """Lines `start`..`end` of `path` in the new file, and the family a finding there must have."""

    path: str
    start: int
    end: int
    family: str  # a FAMILIES key, "other", or "*" (any; `allow` only)

    def matches(self, finding: Finding, family: str) -> bool:
        return (
            finding.path == self.path
            and self.family in ("*", family)
            and finding.line <= self.end + TOLERANCE
            and max(finding.line, finding.end_line) >= self.start - TOLERANCE
        )

    def __str__(self) -> str:
        lines = f"{self.start}" if self.start == self.end else f"{self.start}-{self.end}"
        return f"{self.family} at {self.path}:{lines}"


@dataclass(frozen=True)
class Case:
    """One labelled case: a diff (with expected findings, none for a clean case) or a failing test."""

    id: str
    about: str = ""
    diff: str = ""
    expect: tuple[Span, ...] = ()
    allow: tuple[Span, ...] = ()
    failure: Failure | None = None
    categories: tuple[str, ...] = ()  # expected, in the explain frame's vocabulary

    @property
    def kind(self) -> str:
        return "failure" if self.failure is not None else "diff"


_HEADER_KEYS = ("id", "about", "expect", "allow", "test", "when", "exception", "path", "line", "category")
_SECTIONS = ("diff", "longrepr", "test_source", "code_under_test")
_PHASES = ("setup", "call", "teardown", "collect")
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
_SPAN = re.compile(r"^(?P<path>.+):(?P<start>\d+)(?:-(?P<end>\d+))?$")


def _parse_case_file(text: str, where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"expect": [], "allow": []}
    section: str | None = None
    body: list[str] = []

    def close() -> None:
        if section is not None:
            fields[section] = "\n".join(body).strip("\n")

    for number, raw in enumerate(text.split("\n"), 1):
        if raw.startswith("%% "):
            close()
            section, body = raw[3:].strip(), []
            if section not in _SECTIONS or section in fields:
                raise UsageError(
                    f"eval case {where}:{number}: section '{section}' unknown or repeated "
                    f"(sections: {', '.join(_SECTIONS)})"
                )
        elif section is not None:
            body.append(raw.rstrip("\r"))
        elif raw.strip() and not raw.lstrip().startswith("#"):
            key, sep, value = raw.partition(":")
            key = key.strip().lower()
            if not sep or key not in _HEADER_KEYS:
                raise UsageError(
                    f"eval case {where}:{number}: expected 'key: value' with a key among "
                    f"{', '.join(_HEADER_KEYS)}, or a '%% section' line"
                )
            if key in ("expect", "allow"):
                fields[key].append(value.strip())
            elif key in fields:
                raise UsageError(f"eval case {where}:{number}: '{key}' given twice")
            else:
                fields[key] = value.strip()
    close()
    return fields


def _spans(values: Iterable[str], where: str, *, allow: bool) -> tuple[Span, ...]:
    out = []
    for value in values:
        loc, _, family = value.strip().rpartition(" ")
        m = _SPAN.match(loc.strip())
        known = family in FAMILIES or (allow and family == "*")
        if m is None or not known:
            raise UsageError(
                f"eval case {where}: '{value}' is not PATH:LINE[-END] FAMILY with FAMILY among "
                f"{', '.join(FAMILY_NAMES)}{' or *' if allow else ''}"
            )
        start = int(m["start"])
        out.append(Span(m["path"], start, max(start, int(m["end"] or start)), family))
    return tuple(out)


def _recount(diff: str) -> str:
    """The diff with each hunk header's line counts recomputed; empty hunk lines become context."""
    lines = diff.rstrip("\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _HUNK.match(lines[i])
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(("@@ ", "diff --git ")):
            body.append(lines[i] or " ")
            i += 1
        old = sum(1 for ln in body if ln[0] in " -")
        new = sum(1 for ln in body if ln[0] in " +")
        out.append(f"@@ -{m[1]},{old} +{m[2]},{new} @@{m[3]}")
        out.extend(body)
    return "\n".join(out) + "\n"


def _strings(value: Any) -> list[str]:
    """A header value as a list of strings: JSON lines may give one string where a list is meant."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _case(fields: Mapping[str, Any], default_id: str, where: str) -> Case:
    unknown_keys = sorted(set(fields) - set(_HEADER_KEYS) - set(_SECTIONS))
    if unknown_keys:
        known = ", ".join(_HEADER_KEYS + _SECTIONS)
        raise UsageError(f"eval case {where}: unknown keys {', '.join(unknown_keys)} (keys: {known})")
    case_id = str(fields.get("id") or default_id)
    about = str(fields.get("about") or "")
    expect_raw = _strings(fields.get("expect"))
    allow = _spans(_strings(fields.get("allow")), where, allow=True)
    if "diff" in fields and "longrepr" in fields:
        raise UsageError(f"eval case {where}: a case is either a diff or a failing test (longrepr), not both")
    if "diff" in fields:
        clean = [v.strip().lower() for v in expect_raw] == ["none"]
        if not expect_raw:
            raise UsageError(f"eval case {where}: a diff case needs 'expect' lines, or 'expect: none' when clean")
        expect = () if clean else _spans(expect_raw, where, allow=False)
        diff = _recount(_expand(str(fields["diff"]), case_id, where, diff=True))
        _check_diff(git.parse_patch(diff), expect, where)
        return Case(case_id, about, diff=diff, expect=expect, allow=allow)
    if "longrepr" not in fields:
        raise UsageError(f"eval case {where}: no '%% diff' or '%% longrepr' section")
    wanted = [c.strip().lower() for raw in _strings(fields.get("category")) for c in raw.split("|") if c.strip()]
    unknown = [c for c in wanted if c not in ALIASES]
    if not wanted or unknown or not fields.get("test"):
        raise UsageError(
            f"eval case {where}: a failing test needs 'test' and 'category' among {', '.join(sorted(ALIASES))}"
        )
    when = str(fields.get("when") or "call")
    if when not in _PHASES:
        raise UsageError(f"eval case {where}: 'when: {when}' is not one of {', '.join(_PHASES)}")
    try:
        line = int(fields.get("line") or 0)
    except ValueError:
        raise UsageError(f"eval case {where}: 'line' must be a number") from None

    def text(name: str) -> str:
        return _expand(str(fields.get(name) or ""), case_id, where, diff=False)

    failure = Failure(
        test_id=str(fields["test"]),
        when=when,
        longrepr=text("longrepr"),
        path=str(fields.get("path") or str(fields["test"]).split("::")[0]),
        line=line,
        exc_type=str(fields.get("exception") or ""),
        test_source=text("test_source"),
        code_under_test=text("code_under_test"),
    )
    categories = tuple(dict.fromkeys(category_of(c) for c in wanted))
    return Case(case_id, about, failure=failure, categories=categories, allow=allow)


def _check_diff(files: Sequence[git.FileDiff], expect: Sequence[Span], where: str) -> None:
    for fd in files:  # written into a scratch repository before `git add`: inside it, and never into .git
        parts = PurePosixPath(fd.path).parts
        odd = not parts or fd.path.startswith("/") or "\\" in fd.path or ":" in parts[0]
        if odd or any(p == ".." or p.lower() == ".git" for p in parts):
            raise UsageError(f"eval case {where}: {fd.path!r} is not a relative path inside a repository")
    added = {fd.path: {n for h in fd.hunks for n in h.added_lines} for fd in files}
    if not any(added.values()):
        raise UsageError(f"eval case {where}: the diff adds no line (is each file under a 'diff --git' header?)")
    for span in expect:
        if not added.get(span.path, set()) & set(range(span.start, span.end + 1)):
            raise UsageError(f"eval case {where}: expect {span} names no added line of the diff")


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith((".case", ".jsonl")):
            yield f"{prefix}{entry.name}", entry


def _builtin() -> Traversable:
    return resources.files("symphony_assist_hooks").joinpath("evalcases")


def load_cases(source: str | Path | None = None) -> list[Case]:
    """The cases of a folder or a `.case`/`.jsonl` file (None: the built-in suite), in sorted path order.

    Raises UsageError naming the file (and line) for anything malformed, and for duplicate ids.
    """
    if source is None:
        entries = list(_walk(_builtin()))
    else:
        path = Path(source)
        if path.is_dir():
            entries = list(_walk(path))
        elif path.is_file():
            entries = [(path.name, path)]
        else:
            raise UsageError(f"--cases {str(source)!r}: no such file or folder")
    cases: list[Case] = []
    for name, entry in entries:
        if source is None:
            where = f"evalcases/{name}"
        else:
            where = str(Path(source) / name) if Path(source).is_dir() else str(source)
        try:
            text = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"eval case {where}: unreadable ({exc})") from None
        if name.endswith(".jsonl"):
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    fields = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"eval case {where}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(fields, dict):
                    raise UsageError(f"eval case {where}:{number}: expected a JSON object")
                cases.append(_case(fields, f"{name.removesuffix('.jsonl')}:{number}", f"{where}:{number}"))
        else:
            cases.append(_case(_parse_case_file(text, where), name.removesuffix(".case"), where))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise UsageError(f"eval cases: the id '{case.id}' is used twice")
        seen.add(case.id)
    if not cases:
        raise UsageError(f"--cases {str(source)!r}: no *.case or *.jsonl case in it")
    return cases


def load_thresholds(source: str | Path | None = None) -> dict[str, Any] | None:
    """`thresholds.json` beside the cases (in the folder, or next to the file); None when there is none."""
    if source is None:
        entry: Traversable = _builtin().joinpath(THRESHOLDS)
    else:
        path = Path(source)
        entry = (path if path.is_dir() else path.parent) / THRESHOLDS
    if not entry.is_file():
        return None
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{THRESHOLDS}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{THRESHOLDS}: expected an object of engine name → floors")
    return data
