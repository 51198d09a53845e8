"""Run every benchmark and print one table: `python -m bench [--quick] [--json] [--only A,B] [--check]`.

    benchmark | figure | baseline | ratio | target | met?

Every speed figure is a ratio against a baseline measured in the same run (whole processes, A/B
alternating, median of per-pair ratios: bench/common.py). `--quick` is for CI (under 2 minutes: fewer
pairs, a shorter history, a smaller cache, a shorter latency, no peer install). The exit status is 0
even when a target is missed, so a slow, noisy machine never breaks a pipeline by accident; `--check`
makes a missed target (or a benchmark that failed to run) exit 1. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from .common import HERE, Row, dump, error_row, machine

Bench = Callable[[bool], list[Row]]


def _cost(quick: bool) -> list[Row]:
    from . import cost

    return cost.run(quick)


def _hook(quick: bool) -> list[Row]:
    from . import hook

    return hook.run(quick)


def _help(quick: bool) -> list[Row]:
    from . import speed

    return speed.help_rows(quick)


def _pytest(quick: bool) -> list[Row]:
    from . import speed

    return speed.pytest_rows(quick)


def _peer(quick: bool) -> list[Row]:
    from . import peer_litellm

    return peer_litellm.run(quick)


def _throughput(quick: bool) -> list[Row]:
    from . import throughput

    return throughput.run(quick)


def _scale(quick: bool) -> list[Row]:
    from . import scale

    return scale.run(quick)


def _coverage(quick: bool) -> list[Row]:
    """bench/coverage.py (a colleague's: offline analyzers' coverage), folded in from its --json."""
    script = HERE / "coverage.py"
    if not script.is_file():
        return [Row("coverage of the local analyzers", "not run: bench/coverage.py is not in this tree")]
    cmd = [sys.executable, str(script), "--json", *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"bench/coverage.py exited {proc.returncode}: {proc.stderr.strip()[-300:]}") from None
    targets = data.get("targets", {})
    labels = {
        "failing": "offline: failing tests explained (right category + specific)",
        "risky": "offline: risky diffs, right finding on the right line",
        "clean": "offline: clean diffs without a false positive",
    }
    rows = []
    for key, label in labels.items():
        part = data.get(key) or {}
        if "share" not in part:
            continue
        share, target = float(part["share"]), float(targets.get(key, 0))
        rows.append(
            Row(label, f"{part.get('ok')}/{part.get('cases')}", "", f"{share:.1%}", f"≥ {target:.0%}", share >= target,
                {k: v for k, v in part.items() if k in ("misses", "false_positives", "by_category")})
        )  # fmt: skip
    timing = data.get("timing") or {}
    if timing:
        rows.append(
            Row("offline: analyzer time per risky diff / per failure",
                f"{timing.get('ms_per_diff_batched', 0):.1f} ms / {timing.get('ms_per_failure', 0):.2f} ms")
        )  # fmt: skip
    return rows


def _websec(quick: bool) -> list[Row]:
    from . import websec

    return websec.run(quick)


def _blame(quick: bool) -> list[Row]:
    from . import blame

    return blame.rows(quick)


def _redis(quick: bool) -> list[Row]:
    """bench/redis_bench.py (a colleague's: the team-mode Redis backend against the disk), via its run()."""
    if not (HERE / "redis_bench.py").is_file():
        return [Row("redis backend", "not run: bench/redis_bench.py is not in this tree")]
    from . import redis_bench

    try:
        rows: list[Row] = redis_bench.run(quick)
    except SystemExit as exc:  # e.g. no redis-server on this machine
        return [Row("redis backend", f"not run: {exc}")]
    return rows


BENCHMARKS: dict[str, tuple[Bench, str]] = {
    "cost": (_cost, "tokens and dollars over real history vs a naive reviewer; cache hit rate"),
    "hook": (_hook, "cached hook re-run on 50 staged files: wall, peak RSS, imports"),
    "help": (_help, "`symphony-assist --help` vs `python -c pass`"),
    "pytest": (_pytest, "pytest with the plugin installed and inactive (bench/pytest_overhead.py)"),
    "peer": (_peer, "litellm's disk-cache hit vs our cached query (skipped in quick mode)"),
    "throughput": (_throughput, "100 hunks on a miss with latency per call vs the ideal"),
    "scale": (_scale, "cache hit latency at 100k entries vs 1k; disk per entry"),
    "coverage": (_coverage, "offline analyzers' coverage (bench/coverage.py)"),
    "websec": (_websec, "offline security review vs bandit on labelled web handlers; data-flow cost per commit"),
    "redis": (_redis, "redis backend (bench/redis_bench.py, when present)"),
    "blame": (_blame, "`pytest --assist` on planted one-line bugs in PyPI projects (bench/blame.py)"),
}


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row]) -> str:
    out = ["| benchmark | figure | baseline | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for r in rows:
        cells = (r.benchmark, r.figure, r.baseline, r.ratio, r.target, r.mark)
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    notes = [r.details["markdown"] for r in rows if isinstance(r.details.get("markdown"), str)]
    return "\n".join(out + [""] + [n + "\n" for n in notes]).rstrip() + "\n"


def report(result: dict[str, Any]) -> str:
    """The markdown report: command, machine, the table and the notes."""
    m = result["machine"]
    head = [
        f"Command: `{result['command']}` ({'quick' if result['quick'] else 'full'} run, {result['seconds']:.0f} s)  ",
        f"Date: {m['date']}, commit {m['commit']}"
        + (
            f" with {m['uncommitted_package_files']} uncommitted package files"
            if m["uncommitted_package_files"]
            else ""
        )
        + "  ",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, Python {m['python']}, {m['platform']}, "
        f"{m['git']}, PYTHONDONTWRITEBYTECODE={m['PYTHONDONTWRITEBYTECODE'] or 'unset'}, "
        f"load average at the start {m['loadavg']}",
        "",
    ]
    return "\n".join(head) + markdown(result["rows_objects"])


def run(names: list[str], quick: bool) -> tuple[list[Row], dict[str, float]]:
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for name in names:
        bench, _ = BENCHMARKS[name]
        started = time.perf_counter()
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        try:
            got = bench(quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            got = [error_row(name, exc)]
        seconds[name] = round(time.perf_counter() - started, 1)
        for row in got:
            row.details.setdefault("group", name)
        rows += got
        print(f"[bench] {name} done in {seconds[name]:.1f} s", file=sys.stderr, flush=True)
    return rows, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI mode: under 2 minutes, peer skipped")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    parser.add_argument("--only", help="comma-separated benchmarks: " + ", ".join(BENCHMARKS))
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed or a benchmark failed")
    parser.add_argument("--output", type=Path, help="also write the markdown report (machine, command) here")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, about) in BENCHMARKS.items():
            print(f"{name:<11} {about}")
        return 0
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    started = time.perf_counter()
    info = machine()
    rows, seconds = run(names, args.quick)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    result: dict[str, Any] = {
        "command": command.strip(),
        "quick": args.quick,
        "machine": info,
        "seconds": round(time.perf_counter() - started, 1),
        "seconds_by_benchmark": seconds,
        "rows": [r.to_dict() for r in rows],
        "rows_objects": rows,
        "missed": [r.benchmark for r in rows if r.met is False],
    }
    text = report(result)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    out = {k: v for k, v in result.items() if k != "rows_objects"}
    print(dump(out) if args.json else text)
    return 1 if args.check and result["missed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
