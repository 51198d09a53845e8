"""Recording a replay (see replay.py): which runs qualify, what their result depends on, the write.

`start` (before the review runs) decides whether the run could qualify at all (a staged review,
looked up by entry.py and missed, the disk cache in the folder the fast path looks in, no remote
server, no third-party plugin) and reads the cache's generation token; `Recorder.finish` (after)
writes the record only when the run asked nothing, fell back nowhere (or only for a standing reason: no
key, `--offline`, which the replay key already holds), warned and noticed nothing,
wrote no file, the cache did not change meanwhile, no dependency was modified since its lookup began
(less `RACY_NS`), and the staged listing is still the one looked up.
"""

from __future__ import annotations

import io
import os
import site
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..assistant.cache import SUBDIR
from ..assistant.cache.directory import ensure_private_dir, generation_file
from ..assistant.prompts import project_template_dir, user_template_dir
from ..config import builtin_template_dir
from ..errors import STANDING_REASONS
from ..git import changes as git
from ..git import process as gitcli
from ..git.patch import parse_raw
from ..plugins import has_third_party_plugins
from . import replay
from .baseline import DEFAULT_BASELINE

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..config import Settings
    from ..findings import Report
    from ..terminal.console import Console
    from .pipeline import ReviewOptions

__all__ = ["KEEP", "RACY_NS", "Recorder", "dependencies", "drop_all", "generation_path", "start"]

KEEP = 256  # records kept per cache dir; the oldest beyond this go when one is written
RACY_NS = 100_000_000  # 0.1 s: well over a file-time clock tick (1-10 ms)
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


class Recorder:
    """One staged review being watched for `replay`: started before it runs, finished after.

    A dependency modified after the lookup began (`Pending.looked_ns`, less `RACY_NS` for the clock's
    tick) rules the record out, so stamps taken after the run are the ones the run read; the cache's
    generation token is read at the start and must not have changed by the end.
    """

    def __init__(self, pending: replay.Pending, settings: Settings, opts: ReviewOptions, generation: bytes) -> None:
        self.pending = pending
        self.settings = settings
        self.opts = opts
        self.generation = generation
        self.chunks: Chunks = []

    def capture(self, console: Console) -> None:
        """Keep what the console prints from now on (in order across stdout and stderr)."""
        console.out = _Tee(console.out, False, self.chunks)
        console.err = _Tee(console.err, True, self.chunks)

    def finish(self, report: Report, assistant: Assistant, *, files_written: bool, code: int) -> bool:
        """Write the record when the run qualifies (module docstring); True when written."""
        standing = report.fallback_reason in STANDING_REASONS  # no key, --offline: same inputs, same fallback
        if (
            files_written
            or report.api_requests
            or ((report.local_answers or report.fallback_reason) and not standing)
            or report.notices  # e.g. a local analyzer that failed this time
            or assistant.warnings
            or replay.stamp(generation_path(self.settings), "content") != self.generation  # the cache changed
        ):
            return False

        changed = [e.path for e in parse_raw(self.pending.listing)]
        extra = [str(self.opts.baseline)] if self.opts.baseline else []
        found = dependencies(self.settings, str(git.repo_root()), changed, extra)
        if found is None:
            return False
        deps = [(path, self.generation if kind == "content" else replay.stamp(path, kind)) for path, kind in found]
        if _racy(deps, self.pending.looked_ns) or replay.staged_listing() != self.pending.listing:
            return False  # edited, or staged, while the review ran
        expires = assistant.earliest_expiry or 0.0
        parts = [replay.MAGIC, repr(expires).encode(), str(code).encode(), str(len(deps)).encode()]
        for path, stamped in deps:
            parts += [os.fsencode(path), stamped]
        events = [_event_body(e) for e in assistant.recorded_events]
        parts += [str(len(events)).encode(), *events]
        for to_err, text in self.chunks:
            parts += [b"err" if to_err else b"out", text.encode("utf-8", "surrogatepass")]
        parts.append(replay.END)
        return _write(Path(self.pending.cache_dir) / replay.SUBDIR, self.pending.key, replay.pack(parts))


def _racy(deps: list[tuple[str, bytes]], looked_ns: int) -> bool:
    """A dependency modified since RACY_NS before the lookup: its content may not be what the run read,
    or a later edit in the same clock tick would keep its stamp (git's "racily clean" files)."""
    for _, stamped in deps:
        head = stamped.split(b".", 1)[0]
        if head.isdigit() and int(head) >= looked_ns - RACY_NS:
            return True
    return False


def generation_path(settings: Settings) -> str:
    """The disk cache's generation file (assistant/cache/directory.py) for these settings."""

    return str(generation_file(settings.resolved_cache_dir / SUBDIR))


def start(settings: Settings, opts: ReviewOptions) -> Recorder | None:
    """A Recorder when this process looked the run up and missed, and the run could qualify; else None.

    Cheap: the checks that need no file, and one read of the cache's generation token.
    """

    pending = replay.lookup.pending
    if (
        pending is None
        or not settings.replay
        or opts.source != "staged"
        or not opts.use_cache
        or settings.cache_backend != "disk"
        or settings.server_url is not None
        or os.path.abspath(settings.resolved_cache_dir) != pending.cache_dir
        or os.environ.get("GITHUB_STEP_SUMMARY")  # the github format would append to it
        or has_third_party_plugins()
    ):
        return None
    return Recorder(pending, settings, opts, replay.stamp(generation_path(settings), "content"))


def _event_body(event: dict[str, Any]) -> bytes:
    import json

    body = {k: v for k, v in event.items() if k not in ("ts", "run")}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def dependencies(
    settings: Settings, root: str, changed: Sequence[str], extra: Iterable[str]
) -> list[tuple[str, str]] | None:
    """(path, stamp kind) of what could change a staged review's result without changing its key;
    None when something could that no file shows (a git config included only on some branch)."""
    from ..analyzers.code_review import find_ruff  # deferred: the analyzers package costs ~60 ms of imports

    git_files = _git_files(root)
    if git_files is None:
        return None
    out: list[tuple[str, str]] = [(generation_path(settings), "content")]
    files: list[str] = []
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder, dirs, names in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files += [os.path.join(folder, f) for f in names if not f.endswith((".pyc", ".pyo"))]
    # find_project_root's walk: each pyproject.toml it looked for, and the .git that stopped it
    here = Path.cwd().resolve()
    for up in (here, *here.parents):
        files.append(str(up / "pyproject.toml"))
        out.append((str(up / ".git"), "kind"))
        if (up / "pyproject.toml").is_file() or (up / ".git").exists():
            break
    for templates in (builtin_template_dir(), user_template_dir(), project_template_dir(settings.project_root)):
        if templates is not None:
            files.append(str(templates))
            if templates.is_dir():
                files += [str(p) for p in sorted(templates.iterdir())]
    files.append(os.path.join(root, DEFAULT_BASELINE))
    files += [os.path.abspath(p) for p in extra]
    files += git_files
    # per changed folder and up: git attributes, and ruff's configuration (the local code_review analyzer)
    for folder in sorted({os.path.dirname(p) for p in changed}):
        for d in _ancestors(folder):
            files += [os.path.join(root, d, f) for f in (".gitattributes", "pyproject.toml", "ruff.toml", ".ruff.toml")]
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    files += [os.path.join(xdg, "ruff", "ruff.toml"), os.path.join(xdg, "ruff", "pyproject.toml")]
    files += (find_ruff() or [])[:1]
    # a plugin installed (its entry points are read from these folders' *.dist-info), the user's too
    files += [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)]
    if site.ENABLE_USER_SITE:
        files.append(site.getusersitepackages())
    out += [(os.path.normpath(p), "stat") for p in files]
    return list(dict.fromkeys(out))


def _git_files(root: str) -> list[str] | None:
    """git's configuration files (every one that sets something, every include target, and where new
    ones would go) and the attributes files outside the work tree (a `-diff` attribute makes a file
    binary). None when a config is included only on some branch: no file shows a branch switch."""

    def text(raw: bytes) -> str:
        return raw.decode("utf-8", "surrogateescape")

    _, found = gitcli.run(
        ["rev-parse", "--git-path", "config", "--git-path", "config.worktree", "--git-path", "info/attributes"],
        cwd=root,
    )
    out = [os.path.join(root, p) for p in text(found).splitlines()]
    _, listed = gitcli.run(["config", "--list", "--show-origin", "--name-only", "-z"], cwd=root)
    origins = text(listed).split("\0")[::2]
    out += [os.path.join(root, o.removeprefix("file:")) for o in origins if o.startswith("file:")]
    code, custom = gitcli.run(["config", "--path", "--get", "core.attributesFile"], cwd=root, ok=(0, 1))
    if code == 0 and custom.strip():
        out.append(os.path.join(root, text(custom).strip()))
    code, includes = gitcli.run(["config", "--path", "-z", "--get-regexp", r"^include(if)?\."], cwd=root, ok=(0, 1))
    for entry in text(includes).split("\0") if code == 0 else []:
        name, _, value = entry.partition("\n")
        if name.lower().startswith("includeif.onbranch:"):
            return None
        if name.endswith(".path") and value:
            out.append(os.path.join(root, os.path.expanduser(value)))
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    out += [
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        os.path.join(xdg, "git", "attributes"),
    ]
    out += ["/etc/gitconfig", "/etc/gitattributes"]
    out += [os.environ.get(v, "") for v in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM")]
    return [p for p in out if p]


def _ancestors(rel: str) -> list[str]:
    """`a/b` → [`a/b`, `a`, ``]: the folders whose .gitattributes apply to a file in `rel`."""
    out = [rel]
    while rel:
        rel = os.path.dirname(rel)
        out.append(rel)
    return out


def _write(folder: Path, key: str, data: bytes) -> bool:
    import tempfile  # only when a record is written: not on every review's import path

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
