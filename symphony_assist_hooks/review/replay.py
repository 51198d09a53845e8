"""Replay: a review answered wholly from the cache, printed again without being run again.

A pre-commit hook runs again and again on the same staged changes (a commit refused by another hook and
retried, a message edited, `git commit --amend` of the message only). When a review of the staged
changes was answered entirely from the cache, or by the local analyzers for a standing reason (no key,
`--offline`: the key below holds both), with no request, no other fallback, no warning or notice and
nothing written but stdout and stderr, recorder.py keeps what it printed, its exit code and its stats events
in `<cache dir>/replay/<key>`, where the key is a SHA-256 of everything the result depends on that can
be read in a few syscalls:

* the package version and location, the interpreter, the command line, the working directory, whether
  stdout and stderr are terminals, and the environment variables the tool or git reads (secret-looking
  ones by presence only, URLs without user, password or query: no key or token goes into the hash);
* the staged changes themselves: `git diff --cached --raw -z` lists every changed path with both
  modes and both blob ids, so any staged byte changes the key.

The record also lists what could change the result without changing the key, stamped before the run
(`stamp`): this package's files, every `pyproject.toml` on the way up to the project root, the template
folders and their files, the baseline, `.gitattributes`, git's config files (includes too) and ruff's,
the `site-packages` folders (a plugin installed), and the cache's generation file, which every store,
clear, import or repair rewrites (so an answer replaced by `--no-cache` ends the replay). A record
expires with the soonest cache entry it was built from.

`replay` (called by entry.py before anything else is imported) computes the key with one git process,
and when a record matches and nothing it lists has changed, prints the output again chunk by chunk
(stdout and stderr may share one pipe), appends the same stats events (with the current time and a
new run id) and returns the exit code. It imports only `os`, `sys`, `time` and the SHA-256 primitive.
Anything else (no record, a damaged or stale one, a command that is not a plain staged review, `git -c`
settings in the environment) returns None and the review runs normally; `cache clear` and `cache
import` delete every record, `--no-cache` and `SYMPHONY_ASSIST_REPLAY=0` bypass them.
"""

from __future__ import annotations

import os
import sys
import time

from .. import __version__
from ..git.env import GLOBAL_OPTIONS, STAGED_RAW, git_env

__all__ = ["Pending", "cache_dir", "key_environment", "lookup", "replay", "stamp", "unchanged"]

MAGIC = b"symphony-assist-replay 1"
SUBDIR = "replay"
APP = "symphony-assist"  # config.APP, repeated: config.py is not imported on this path
# The environment a review or its output can depend on. Names holding a secret count by presence only.
ENV_PREFIXES = (
    "SYMPHONY_ASSIST_", "LLM_", "OPENAI_", "GIT_", "PRE_COMMIT", "GITHUB_", "GITLAB_", "XDG_", "PYTHON", "LC_",
)  # fmt: skip
ENV_NAMES = frozenset({"CI", "COLUMNS", "FORCE_COLOR", "HOME", "LANG", "NO_COLOR", "PATH", "TERM"})
SECRET_MARKS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")
# Arguments that rule a replay out before git is even asked (`record` checks the parsed command too).
_NEVER = frozenset({"-h", "--help", "--version", "--no-cache", "--all-files"})
_OFF = frozenset({"0", "false", "no", "off"})


class Pending:
    """A staged review this process looked up and did not find: what `record` files its result under."""

    __slots__ = ("cache_dir", "key", "listing", "looked_ns")

    def __init__(self, key: str, listing: bytes, cache_dir: str, looked_ns: int) -> None:
        self.key = key
        self.listing = listing
        self.cache_dir = cache_dir
        self.looked_ns = looked_ns  # when the lookup began: a dependency modified after it is suspect


class _Lookup:
    """This process's lookup: set by `replay` on a miss, read by recorder.start."""

    pending: Pending | None = None


lookup = _Lookup()


def replay(argv: list[str]) -> int | None:
    """The exit code of a replayed review (its output already printed), or None to run it."""
    lookup.pending = None
    if "review" not in argv or any(a in _NEVER or a.startswith("--rev") for a in argv):
        return None
    if os.environ.get("SYMPHONY_ASSIST_REPLAY", "").strip().lower() in _OFF:
        return None
    if "--pre-commit" in argv and os.environ.get("PRE_COMMIT_FROM_REF") and os.environ.get("PRE_COMMIT_TO_REF"):
        return None  # pre-push: a range is reviewed, not the index
    if os.environ.get("GIT_CONFIG_PARAMETERS") or os.environ.get("GIT_CONFIG_COUNT"):
        return None  # `git -c …` config in the environment: may hold a credential, never put in a key
    looked = time.time_ns()
    where = cache_dir()
    listing = staged_listing()
    if where is None or listing is None:
        return None
    key = replay_key(argv, listing)
    lookup.pending = Pending(key, listing, where, looked)
    try:
        with open(os.path.join(where, SUBDIR, key), "rb") as fh:
            record = parse(fh.read())
    except (OSError, ValueError, IndexError):  # no record, or a damaged one
        return None
    if record is None:
        return None
    code, chunks, events = record
    try:
        for to_err, text in chunks:  # each flushed: stdout and stderr may share one pipe (pre-commit)
            stream = sys.stderr if to_err else sys.stdout
            stream.write(text)
            stream.flush()
    except BrokenPipeError:
        return 0  # as cli.main: a reader that went away is not an error
    append_stats(where, events)
    return code


def cache_dir() -> str | None:
    """The cache dir as the environment sets it, or the XDG default (Linux); None elsewhere.

    `record` writes only when the run's settings resolved the same folder (pyproject.toml may move it).
    """
    value = os.environ.get("SYMPHONY_ASSIST_CACHE_DIR", "").strip()
    if value:
        return os.path.abspath(os.path.expanduser(value))
    if not sys.platform.startswith("linux"):
        return None  # platformdirs decides there, and importing it is what this path avoids
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, APP)


def staged_listing() -> bytes | None:
    """`git diff --cached --raw -z` for the current directory's repository, or None when git fails.

    `os.posix_spawnp` instead of subprocess, whose import alone costs several milliseconds.
    """
    spawn = getattr(os, "posix_spawnp", None)
    if spawn is None:
        return None
    read_fd, write_fd = os.pipe()
    try:
        if min(read_fd, write_fd) <= 2:  # a standard stream was closed: do not juggle descriptors
            os.close(write_fd)
            return None
        try:
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, write_fd, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ]
            pid = spawn("git", ["git", *GLOBAL_OPTIONS, *STAGED_RAW], git_env(), file_actions=actions)
        except OSError:
            return None
        finally:
            os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # SIGCHLD ignored by whoever started us: the status is gone
        return None
    return b"".join(chunks) if os.waitstatus_to_exitcode(status) == 0 else None


def key_environment() -> list[str]:
    """`NAME=value` of the variables in the key. A secret-looking name counts by presence only, a URL
    without its user, password and query; GIT_INDEX_FILE not at all (the listing is that index's, and
    `git commit <paths>` names a new temporary index every time)."""
    env = []
    for name, raw in sorted(os.environ.items()):
        if name == "GIT_INDEX_FILE" or not (name in ENV_NAMES or name.startswith(ENV_PREFIXES)):
            continue
        value = raw
        if raw and any(mark in name.upper() for mark in SECRET_MARKS):
            value = "<set>"
        elif "://" in raw:
            scheme, _, rest = raw.partition("://")
            host, slash, path = rest.partition("/")
            value = f"{scheme}://{host.rpartition('@')[2]}{slash}{path.partition('?')[0]}"
        env.append(f"{name}={value}")
    return env


def _sha256_hex(parts: list[bytes]) -> str:
    """SHA-256 of the parts, each length-prefixed, without importing hashlib where a builtin has it."""
    for module in ("_sha256", "_sha2", "hashlib"):  # hashlib loads OpenSSL first (~2 ms); 3.12 has _sha2
        try:
            h = __import__(module).sha256()
        except (ImportError, AttributeError):
            continue
        for data in parts:
            h.update(b"%d:" % len(data) + data)
        return str(h.hexdigest())
    raise ImportError("no sha256")  # pragma: no cover - hashlib always has it


def replay_key(argv: list[str], listing: bytes) -> str:
    """SHA-256 over everything in the key (see the module docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))  # another install of the same version is another key
    texts = [__version__, here, sys.executable, os.getcwd(), *argv, "\0", *key_environment()]
    texts.append(f"tty={os.isatty(1)},{os.isatty(2)}")
    return _sha256_hex([MAGIC, *(os.fsencode(t) for t in texts), listing])


def stamp(path: str, kind: str = "stat") -> bytes:
    """What a record remembers of a path it depends on; `-` when there is none. By `kind`:

    * `stat`: `<mtime_ns>.<size>.<inode>` (a file's content, a folder's entries);
    * `kind`: only `dir` or `file` (the `.git` that ends the search for pyproject.toml: git writes into
      it on every commit);
    * `content`: `=` and the bytes (a small file rewritten on every change, such as the cache's
      generation file: an mtime could repeat within one clock tick).
    """
    try:
        if kind == "content":
            with open(path, "rb") as fh:
                return b"=" + fh.read(256)
        st = os.stat(path)
    except OSError:
        return b"-"
    if kind == "kind":
        return b"dir" if os.path.isdir(path) else b"file"
    return b"%d.%d.%d" % (st.st_mtime_ns, st.st_size, st.st_ino)


def unchanged(path: str, stamped: bytes) -> bool:
    """Whether `path` still has the stamp a record holds (its kind read off the stamp)."""
    kind = "content" if stamped[:1] == b"=" else "kind" if stamped in (b"dir", b"file") else "stat"
    return stamp(path, kind) == stamped


# ----------------------------------------------------------------------------------------- records
# A record is a sequence of fields, each `<length>:<bytes>\n`: MAGIC, expiry (epoch seconds, 0 =
# none), exit code, the number of dependencies and their (path, stamp) pairs, the number of stats
# events and their JSON bodies without `ts` and `run`, then (stream, text) output chunks, then END.
END = b"end"


def fields(data: bytes) -> list[bytes]:
    """The fields of a record; ValueError when it is damaged."""
    out: list[bytes] = []
    i = 0
    while i < len(data):
        colon = data.index(b":", i)
        start = colon + 1
        end = start + int(data[i:colon])
        if data[end : end + 1] != b"\n":
            raise ValueError("damaged replay record")
        out.append(data[start:end])
        i = end + 1
    return out


def pack(parts: list[bytes]) -> bytes:
    return b"".join(b"%d:%s\n" % (len(p), p) for p in parts)


Record = tuple[int, list[tuple[bool, str]], list[bytes]]


def parse(data: bytes) -> Record | None:
    """(exit code, output chunks as (to stderr?, text), stats event bodies) of a fresh record, else None."""
    f = fields(data)
    if len(f) < 5 or f[0] != MAGIC or f[-1] != END:
        return None
    f.pop()
    expires, code, deps = float(f[1]), int(f[2]), int(f[3])
    if expires and expires <= time.time():
        return None
    at = 4
    for _ in range(deps):
        if not unchanged(os.fsdecode(f[at]), f[at + 1]):
            return None
        at += 2
    count = int(f[at])
    events = f[at + 1 : at + 1 + count]
    at += 1 + count
    if len(events) != count or (len(f) - at) % 2:
        return None  # cut short
    chunks: list[tuple[bool, str]] = []
    for i in range(at, len(f), 2):
        if f[i] not in (b"out", b"err"):
            return None
        chunks.append((f[i] == b"err", f[i + 1].decode("utf-8", "surrogatepass")))
    return code, chunks, events


def append_stats(where: str, events: list[bytes]) -> None:
    """The recorded stats events again, now, under a new run id (as stats.StatsLog writes them)."""
    if not events:
        return
    head = b'{"run":"%s","ts":%s' % (os.urandom(6).hex().encode(), repr(round(time.time(), 3)).encode())
    try:
        fd = os.open(os.path.join(where, "stats.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for body in events:
                os.write(fd, head + (b"," + body[1:] if body != b"{}" else b"}") + b"\n")
        finally:
            os.close(fd)
    except OSError:
        pass  # stats never fail a run
