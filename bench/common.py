"""Shared pieces of the benchmarks: result rows, whole-process A/B timing, isolated environments.

Method (docs/reference.md#measuring): every speed figure is a ratio against a baseline measured in the same run.
Two commands run alternately (A B A B …) after one warm-up of each; the ratio reported is the median
of the per-pair ratios, and wall time runs from `Popen` until `os.wait4` returns, which also gives the
child's peak RSS. Nothing here imports the package under test, so the runner stays cheap to import.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"  # git-ignored: downloads, throwaway venvs, scratch repositories
TESTS = ROOT / "tests"
BIN = Path(sys.executable).parent  # the venv running the benchmarks (console scripts live here)

# Keys the fake server accepts; they look like keys so the package takes them, and are random per run.
BENCH_KEY = "sk-bench-" + os.urandom(12).hex()
_SCRUB = ("OPENAI_", "SYMPHONY_ASSIST_", "LLM_", "PYTEST_", "GIT_", "PRE_COMMIT", "GITHUB_", "GITLAB_", "LITELLM_")


# ----------------------------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One line of the results table. `met` is None when there is no target or it was not measured."""

    benchmark: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def mark(self) -> str:
        return {True: "yes", False: "**NO**", None: "–"}[self.met]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def error_row(benchmark: str, exc: BaseException) -> Row:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
    return Row(benchmark, f"error: {text}", met=False, details={"error": text})


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_ratio(value: float) -> str:
    return f"{value:.3f}×" if value < 10 else f"{value:.1f}×"


# ------------------------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Sample:
    seconds: float
    max_rss_kib: int
    returncode: int


# Peak RSS from wait4 is inherited through fork/vfork + exec: a child spawned straight from this process
# would report at least this process's own peak (tens of MiB once pytest and the fake server are loaded).
# So measured commands are started by a tiny launcher (`python -S`, stdlib only, ~8 MiB), which also
# takes the timings, unaffected by this process's threads (the fake server).
_LAUNCHER = r"""
import json, os, sys, time
null = os.open(os.devnull, os.O_RDWR)
for line in sys.stdin:
    job = json.loads(line)
    os.chdir(job["cwd"] or "/")
    acts = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(job["cmd"][0], job["cmd"], job["env"], file_actions=acts)
        _, status, usage = os.wait4(pid, 0)
        out = {"seconds": time.perf_counter() - start, "rss": usage.ru_maxrss,
               "rc": os.waitstatus_to_exitcode(status)}
    except OSError as exc:
        out = {"error": str(exc)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


class _Launcher:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, cmd: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None) -> dict[str, Any]:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", "-c", _LAUNCHER],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                )  # fmt: skip
            assert self._proc.stdin is not None and self._proc.stdout is not None
            job = {"cmd": [str(c) for c in cmd], "cwd": str(cwd) if cwd else None, "env": dict(env or os.environ)}
            self._proc.stdin.write(json.dumps(job) + "\n")
            self._proc.stdin.flush()
            reply: dict[str, Any] = json.loads(self._proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError(f"cannot start {cmd[0]}: {reply['error']}")
        return reply


_launcher = _Launcher()


def run_once(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    expect: Sequence[int] | None = (0,),
) -> Sample:
    """Run `cmd` to its end: wall seconds, peak RSS (KiB, from wait4) and the exit code.

    Output is discarded. Raises RuntimeError when the exit code is not in `expect` (None: any).
    """
    reply = _launcher.run(cmd, cwd, env)
    if expect is not None and reply["rc"] not in expect:
        # Run it once more with its output kept, so the error says why.
        again = subprocess.run(
            list(cmd), cwd=cwd, env=dict(env) if env is not None else None, capture_output=True, text=True, check=False
        )
        shown = " ".join(str(c) if len(str(c)) < 60 else str(c)[:57] + "…" for c in cmd)
        why = (again.stderr or again.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{shown} exited {reply['rc']} (expected {list(expect)}): {' / '.join(why)}")
    return Sample(float(reply["seconds"]), int(reply["rss"]), int(reply["rc"]))


@dataclass
class AB:
    """A/B pairs of whole-process runs of two commands."""

    a: list[Sample] = field(default_factory=list)
    b: list[Sample] = field(default_factory=list)

    @property
    def median_a(self) -> float:
        return statistics.median(s.seconds for s in self.a)

    @property
    def median_b(self) -> float:
        return statistics.median(s.seconds for s in self.b)

    @property
    def ratio(self) -> float:
        """Median of the per-pair ratios A/B."""
        return statistics.median(a.seconds / b.seconds for a, b in zip(self.a, self.b, strict=True))

    @property
    def diff(self) -> float:
        """Median of the per-pair differences A - B, in seconds."""
        return statistics.median(a.seconds - b.seconds for a, b in zip(self.a, self.b, strict=True))

    @property
    def rss_a_mib(self) -> float:
        return max(s.max_rss_kib for s in self.a) / 1024

    @property
    def rss_b_mib(self) -> float:
        return max(s.max_rss_kib for s in self.b) / 1024

    def summary(self) -> dict[str, Any]:
        return {
            "pairs": len(self.a),
            "median_a_ms": round(self.median_a * 1000, 2),
            "median_b_ms": round(self.median_b * 1000, 2),
            "min_a_ms": round(min(s.seconds for s in self.a) * 1000, 2),
            "max_a_ms": round(max(s.seconds for s in self.a) * 1000, 2),
            "ratio_median_of_pairs": round(self.ratio, 4),
            "diff_median_of_pairs_ms": round(self.diff * 1000, 2),
            "peak_rss_a_mib": round(self.rss_a_mib, 2),
            "peak_rss_b_mib": round(self.rss_b_mib, 2),
        }


def ab(
    a: Sequence[str],
    b: Sequence[str],
    pairs: int,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    env_b: Mapping[str, str] | None = None,
    expect_a: Sequence[int] | None = (0,),
    expect_b: Sequence[int] | None = (0,),
    warmup: int = 1,
    between: Callable[[], None] | None = None,
) -> AB:
    """Run A and B alternately `pairs` times after `warmup` runs of each (file cache, imports)."""
    env_b = env if env_b is None else env_b
    for _ in range(warmup):
        run_once(a, cwd=cwd, env=env, expect=expect_a)
        run_once(b, cwd=cwd, env=env_b, expect=expect_b)
    out = AB()
    for _ in range(pairs):
        out.a.append(run_once(a, cwd=cwd, env=env, expect=expect_a))
        out.b.append(run_once(b, cwd=cwd, env=env_b, expect=expect_b))
        if between is not None:
            between()
    return out


# -------------------------------------------------------------------------------------- environments
def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without keys, our settings or git overrides, with a private HOME.

    PYTHONDONTWRITEBYTECODE is kept as the machine has it (docs/reference.md#measuring): users and CI pay it too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    env.update(extra)
    return env


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, env=dict(env) if env else None, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "replace")


def init_repo(path: Path, env: Mapping[str, str]) -> Path:
    """An empty repository with a fixed identity, no hooks from the machine and `main` as its branch."""
    path.mkdir(parents=True, exist_ok=True)
    template = path.parent / ".empty-git-template"
    template.mkdir(exist_ok=True)
    git(path, "init", "-q", "-b", "main", f"--template={template}", env=env)
    for key, value in (("commit.gpgsign", "false"), ("core.autocrlf", "false"), ("gc.auto", "0")):
        git(path, "config", key, value, env=env)
    return path


# ------------------------------------------------------------------------------------ the fake server
def _import_tests_module(name: str) -> Any:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import importlib

    return importlib.import_module(name)


@contextlib.contextmanager
def fake_server(responder: Callable[[dict[str, Any]], Any] | None = None) -> Iterator[Any]:
    """tests/fakeserver.py's FakeOpenAI on 127.0.0.1 (random port), started as its pytest fixture does.

    Default responder: tests/responders.py's `answering()` (every item of our prompts gets an answer).
    """
    fs = _import_tests_module("fakeserver")
    server = fs._Server(("127.0.0.1", 0), fs._Handler)
    host, port = server.server_address[:2]
    server.fake = fs.FakeOpenAI(str(host), int(port))
    server.fake.responder = responder or _import_tests_module("responders").answering()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# ----------------------------------------------------------------------------------- throwaway venvs
def ensure_venv(name: str, requirements: Sequence[str], *, timeout: float = 900) -> Path:
    """A venv under bench/.work/venvs/<name> with `requirements` installed; reused when already built.

    Returns the venv's python. Raises RuntimeError (with pip's last lines) when the install fails.
    """
    root = WORK / "venvs" / name
    python = root / "bin" / "python"
    marker = root / ".bench-ok"
    wanted = "\n".join(requirements)
    if marker.is_file() and marker.read_text() == wanted and python.exists():
        return python
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True)
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"pip install {' '.join(requirements)} failed: {tail}")
    marker.write_text(wanted)
    return python


# -------------------------------------------------------------------------------------------- machine
def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "commit": git(ROOT, "rev-parse", "--short", "HEAD", check=False).strip(),
        "uncommitted_package_files": len(
            git(ROOT, "status", "--porcelain", "--", "symphony_assist_hooks", "templates", check=False).splitlines()
        ),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "loadavg": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)
