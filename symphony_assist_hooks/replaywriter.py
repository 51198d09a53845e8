"""Recording a replay (see replay.py): which runs qualify, what their result depends on, the write.

Only a staged review whose every item came from the disk cache qualifies: no request, no fallback, no
warning, nothing written but stdout and stderr, no third-party plugin, no remote server, and the same
cache dir the fast path looks in. The staged listing is read again before writing: changes staged
while the review ran get no record.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import replay

if TYPE_CHECKING:
    from .assistant import Assistant
    from .config import Settings
    from .console import Console
    from .findings import Report
    from .review import ReviewOptions

__all__ = ["KEEP", "capture", "dependencies", "drop_all", "record"]

KEEP = 256  # records kept per cache dir; the oldest beyond this go when one is written
Chunks = list[tuple[bool, str]]


class _Tee(io.TextIOBase):
    """A console stream that also keeps what was written, in order with the other stream's text."""

    def __init__(self, inner: TextIO, to_err: bool, chunks: Chunks) -> None:
        super().__init__()
        self._inner = inner
        self._to_err = to_err
        self._chunks = chunks

    def write(self, text: str) -> int:
        self._chunks.append((self._to_err, text))
        return self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return str(getattr(self._inner, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._inner, "errors", None)


def capture(console: Console) -> Chunks | None:
    """When `replay` looked this run up and missed: keep what the console prints from now on."""
    if replay.lookup.pending is None:
        return None
    chunks: Chunks = []
    console.out = _Tee(console.out, False, chunks)
    console.err = _Tee(console.err, True, chunks)
    return chunks


def _qualifies(
    settings: Settings, opts: ReviewOptions, files_written: bool, report: Report, assistant: Assistant
) -> bool:
    from .plugins import has_third_party_plugins

    pending = replay.lookup.pending
    return (
        pending is not None
        and settings.replay
        and opts.source == "staged"
        and opts.use_cache
        and not files_written
        and settings.cache_backend == "disk"
        and settings.server_url is None
        and os.path.abspath(settings.resolved_cache_dir) == pending.cache_dir
        and report.api_requests == 0
        and report.local_answers == 0
        and not report.fallback_reason
        and not assistant.warnings
        and not os.environ.get("GITHUB_STEP_SUMMARY")  # the run appended to a file
        and not has_third_party_plugins()
    )


def record(
    settings: Settings,
    opts: ReviewOptions,
    *,
    files_written: bool,
    report: Report,
    assistant: Assistant,
    chunks: Chunks,
    code: int,
) -> bool:
    """Keep this run's result for `replay` when it qualifies (module docstring); True when written."""
    pending = replay.lookup.pending
    if pending is None or not _qualifies(settings, opts, files_written, report, assistant):
        return False
    if replay.staged_listing() != pending.listing:
        return False  # something was staged while the review ran
    from . import git
    from .diffparse import parse_raw

    root = str(git.repo_root())
    changed = [e.path for e in parse_raw(pending.listing)]
    deps = dependencies(settings, root, changed, [str(opts.baseline)] if opts.baseline else [])
    expires = assistant.earliest_expiry or 0.0
    parts = [replay.MAGIC, repr(expires).encode(), str(code).encode(), str(len(deps)).encode()]
    for path in deps:
        parts += [os.fsencode(path), replay.stamp(path)]
    events = [_event_body(e) for e in assistant.recorded_events]
    parts += [str(len(events)).encode(), *events]
    for to_err, text in chunks:
        parts += [b"err" if to_err else b"out", text.encode("utf-8", "surrogatepass")]
    return _write(Path(pending.cache_dir) / replay.SUBDIR, pending.key, replay.pack(parts))


def _event_body(event: dict[str, Any]) -> bytes:
    import json

    body = {k: v for k, v in event.items() if k not in ("ts", "run")}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def dependencies(settings: Settings, root: str, changed: Sequence[str], extra: Iterable[str]) -> list[str]:
    """Files whose change could change a staged review's result without changing its key."""
    from . import gitcli
    from .analyzers.code_review import find_ruff
    from .assistant.prompts import project_template_dir, user_template_dir
    from .commands.review import DEFAULT_BASELINE
    from .plugins import builtin_template_dir

    out: list[str] = []
    package = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out += [os.path.join(folder, f) for f in files if not f.endswith((".pyc", ".pyo"))]
    # find_project_root's walk: each pyproject.toml it looked for, and where it stopped
    here = Path.cwd().resolve()
    for up in (here, *here.parents):
        out += [str(up / "pyproject.toml"), str(up / ".git")]
        if (up / "pyproject.toml").is_file() or (up / ".git").exists():
            break
    for templates in (builtin_template_dir(), user_template_dir(), project_template_dir(settings.project_root)):
        if templates is not None:
            out.append(str(templates))
            if templates.is_dir():
                out += [str(p) for p in sorted(templates.iterdir())]
    out.append(os.path.join(root, DEFAULT_BASELINE))
    out += [os.path.abspath(p) for p in extra]
    # git attributes (a `-diff` attribute makes a file binary) and the config that can point elsewhere
    _, found = gitcli.run(["rev-parse", "--git-path", "config", "--git-path", "info/attributes"], cwd=root)
    out += [os.path.join(root, p) for p in found.decode("utf-8", "surrogateescape").splitlines()]
    code, custom = gitcli.run(["config", "--path", "--get", "core.attributesFile"], cwd=root, ok=(0, 1))
    if code == 0 and custom.strip():
        out.append(os.path.join(root, custom.decode("utf-8", "surrogateescape").strip()))
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    out += [
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        os.path.join(xdg, "git", "attributes"),
    ]
    # per changed folder and up: git attributes, and ruff's configuration (the local code_review analyzer)
    for folder in sorted({os.path.dirname(p) for p in changed}):
        for d in _ancestors(folder):
            out += [
                os.path.join(root, d, name) for name in (".gitattributes", "pyproject.toml", "ruff.toml", ".ruff.toml")
            ]
    out += [
        os.path.join(xdg, "ruff", "ruff.toml"),
        os.path.join(xdg, "ruff", "pyproject.toml"),
        *(find_ruff() or [])[:1],
    ]
    # a plugin installed (its entry points are read from these folders' *.dist-info)
    out += [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)]
    return list(dict.fromkeys(os.path.normpath(p) for p in out))


def _ancestors(rel: str) -> list[str]:
    """`a/b` → [`a/b`, `a`, ``]: the folders whose .gitattributes apply to a file in `rel`."""
    out = [rel]
    while rel:
        rel = os.path.dirname(rel)
        out.append(rel)
    return out


def _write(folder: Path, key: str, data: bytes) -> bool:
    from .assistant.diskstore import ensure_private_dir

    try:
        ensure_private_dir(folder, lambda _message: None)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, folder / key)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except OSError:
        return False  # a full disk or a read-only cache: the next run reviews again
    return True


def _prune(folder: Path) -> None:
    """Keep the newest KEEP records (one per staged state reviewed): old states never come back."""
    entries = [(e.stat().st_mtime_ns, e.path) for e in os.scandir(folder) if e.is_file()]
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        Path(path).unlink(missing_ok=True)


def drop_all(cache_dir: Path) -> int:
    """Delete every record under `cache_dir` (after `cache clear` or `cache import`); how many."""
    folder = cache_dir / replay.SUBDIR
    if not folder.is_dir():
        return 0
    count = 0
    for entry in os.scandir(folder):
        if entry.is_file():
            Path(entry.path).unlink(missing_ok=True)
            count += 1
    return count
