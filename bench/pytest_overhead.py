"""What the installed pytest plugin costs a pytest run (docs/reference.md#pytest-plugin-overhead, #performance-goals).

    .venv/bin/python bench/pytest_overhead.py [-n RUNS] [--tests N] [--check]

On a small generated project (N green tests in a few modules, in a temporary directory), whole-process
wall time of:

1. installed but inactive: `pytest --co -q` vs `pytest --co -q -p no:symphony_assist`
   goal: median of per-pair ratios <= 1.02
   1b. the same with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, `-p symphony_assist_hooks.pytest_plugin` vs
   `-p` of an empty module: without the other installed plugins (hypothesis, anyio, …) in both sides'
   time, the ratio shows our module's share of a bare pytest start (`-p` itself scans every installed
   distribution's entry points, so both sides pay that)
2. active on a green run: `pytest -q --assist` vs `pytest -q` (plugin installed, inactive)
   goal: medians differ by <= 10 ms, and `openai` is never imported (checked in an extra run)

Each comparison runs A and B alternately (A B A B …) after one warm-up of each; it prints the medians,
the median of the per-pair ratios and the difference of the medians, for wall time and for the child's
CPU time (user + system, from wait4, like peak RSS; on a busy machine wall time mostly measures the
other processes, CPU time far less), and the load average. A goal counts as met when both hold. The
environment is this process's (PYTHONDONTWRITEBYTECODE as on the machine) plus a private cache dir, no
API key and SYMPHONY_ASSIST_OFFLINE=1: nothing can reach a network. Not a test: `--check` makes the exit
status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

HEAVY = (
    "openai", "httpx2", "httpx", "pydantic", "jinja2", "diskcache", "symphony_assist_hooks.assistant",
    "symphony_assist_hooks.explain.session", "symphony_assist_hooks.explain.requests", "symphony_assist_hooks.config",
)  # fmt: skip

CONFTEST = f"""
import os, sys

HEAVY = {HEAVY!r}


def pytest_unconfigure(config):
    out = os.environ.get("BENCH_MODULES_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(",".join(m for m in HEAVY if m in sys.modules))
"""


def make_project(root: Path, tests: int) -> None:
    """`tests` green tests over four modules, a small package under test and a conftest."""
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "conftest.py").write_text(CONFTEST)
    (root / "_bench_noop_plugin.py").write_text('"""An empty pytest plugin: the baseline of comparison 1b."""\n')
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (root / "tests").mkdir()
    per_module = max(tests // 4, 1)
    for m in range(4):
        body = "from pkg.calc import add\n\n"
        body += "".join(
            textwrap.dedent(f"""
            def test_add_{m}_{i}():
                assert add({i}, {m}) == {i + m}
            """)
            for i in range(per_module)
        )
        (root / "tests" / f"test_m{m}.py").write_text(body)


@dataclass
class Sample:
    seconds: float  # wall, spawn to exit
    cpu: float  # the child's user + system time: far less sensitive to other load on the machine
    max_rss_kib: int


def run(cmd: list[str], cwd: Path, env: dict[str, str], expect: int) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}, expected {expect}")
    return Sample(elapsed, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))


@dataclass
class Comparison:
    name: str
    a: list[Sample]
    b: list[Sample]

    @property
    def median_a(self) -> float:
        return statistics.median(s.seconds for s in self.a)

    @property
    def median_b(self) -> float:
        return statistics.median(s.seconds for s in self.b)

    @property
    def ratio(self) -> float:
        return statistics.median(a.seconds / b.seconds for a, b in zip(self.a, self.b, strict=True))

    @property
    def diff_ms(self) -> float:
        return (self.median_a - self.median_b) * 1000

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(a.cpu / b.cpu for a, b in zip(self.a, self.b, strict=True))

    @property
    def cpu_diff_ms(self) -> float:
        return (statistics.median(s.cpu for s in self.a) - statistics.median(s.cpu for s in self.b)) * 1000

    def lines(self) -> str:
        rss_a = statistics.median(s.max_rss_kib for s in self.a) / 1024
        rss_b = statistics.median(s.max_rss_kib for s in self.b) / 1024
        cpu_a = statistics.median(s.cpu for s in self.a) * 1000
        cpu_b = statistics.median(s.cpu for s in self.b) * 1000
        return (f"{self.name}\n"
                f"   wall  A {self.median_a * 1000:7.1f} ms  B {self.median_b * 1000:7.1f} ms  "
                f"A/B {self.ratio:6.3f}  A-B {self.diff_ms:+6.1f} ms\n"
                f"   cpu   A {cpu_a:7.1f} ms  B {cpu_b:7.1f} ms  "
                f"A/B {self.cpu_ratio:6.3f}  A-B {self.cpu_diff_ms:+6.1f} ms\n"
                f"   peak RSS A {rss_a:5.1f} MiB  B {rss_b:5.1f} MiB")  # fmt: skip


def compare(name: str, a: list[str], b: list[str], runs: int, cwd: Path, env: dict[str, str],
            expect: int) -> Comparison:  # fmt: skip
    run(a, cwd, env, expect)  # warm-up: file cache, imports
    run(b, cwd, env, expect)
    result = Comparison(name, [], [])
    for _ in range(runs):
        result.a.append(run(a, cwd, env, expect))
        result.b.append(run(b, cwd, env, expect))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=20, help="A/B pairs per comparison (default 20)")
    parser.add_argument("--tests", type=int, default=20, help="green tests in the project (default 20)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    pytest_cmd = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        make_project(root, args.tests)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SYMPHONY_ASSIST_", "PYTEST_"))}
        env.update(SYMPHONY_ASSIST_CACHE_DIR=str(Path(tmp) / "cache"), SYMPHONY_ASSIST_OFFLINE="1")

        print(f"python {sys.version.split()[0]}, PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '')!r},"
              f" {args.tests} tests, {args.runs} A/B pairs per line")  # fmt: skip
        inactive = compare(
            "1 --co -q: installed (A) vs -p no: (B)",
            [*pytest_cmd, "--co", "-q"],
            [*pytest_cmd, "--co", "-q", "-p", "no:symphony_assist"],
            args.runs, root, env, 0,
        )  # fmt: skip
        print(inactive.lines())
        bare = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(root)}
        lean = compare(
            "1b --co -q, autoload off: -p our module (A) vs -p an empty module (B)",
            [*pytest_cmd, "--co", "-q", "-p", "symphony_assist_hooks.pytest_plugin"],
            [*pytest_cmd, "--co", "-q", "-p", "_bench_noop_plugin"],
            args.runs, root, bare, 0,
        )  # fmt: skip
        print(lean.lines())
        active = compare(
            "2 green run: --assist (A) vs installed (B)",
            [*pytest_cmd, "-q", "--assist"],
            [*pytest_cmd, "-q"],
            args.runs, root, env, 0,
        )  # fmt: skip
        print(active.lines())

        modules_out = Path(tmp) / "modules.txt"
        run([*pytest_cmd, "-q", "--assist"], root, {**env, "BENCH_MODULES_OUT": str(modules_out)}, 0)
        loaded = modules_out.read_text(encoding="utf-8")

    print(f"load average after the runs: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    goals = [
        (
            f"inactive plugin: wall A/B {inactive.ratio:.3f}, cpu A/B {inactive.cpu_ratio:.3f} <= 1.02",
            inactive.ratio <= 1.02 and inactive.cpu_ratio <= 1.02,
        ),
        (
            f"inactive plugin, bare pytest: wall A/B {lean.ratio:.3f}, cpu A/B {lean.cpu_ratio:.3f} <= 1.02",
            lean.ratio <= 1.02 and lean.cpu_ratio <= 1.02,
        ),
        (
            f"active green run: wall {active.diff_ms:+.1f} ms, cpu {active.cpu_diff_ms:+.1f} ms <= 10 ms",
            active.diff_ms <= 10.0 and active.cpu_diff_ms <= 10.0,
        ),
        (f"heavy modules imported on an active green run: {loaded or 'none'}", loaded == ""),
    ]
    for text, ok in goals:
        print(f"{'met   ' if ok else 'MISSED'} {text}")
    return 1 if args.check and not all(ok for _, ok in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
