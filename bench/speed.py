"""Start-up costs a user feels: `symphony-assist --help`, and pytest with the plugin installed but inactive.

* `--help`: `symphony-assist --help` vs `python -c pass`, alternating whole processes; target: the median
  of --help ≤ 1.5 × the median of `python -c pass` + 30 ms (PERFORMANCE.md §10 goal 4 allows 30 ms).
* pytest: reuses bench/pytest_overhead.py (a colleague's script, run as a subprocess so its own method
  and output stay the reference); its A/B lines are parsed into rows. Quick mode runs only its first
  comparison (installed and inactive vs -p no:symphony_assist), through its functions.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import BIN, HERE, Row, ab, isolated_env, ms
from .hook import heavy_imported, importtime

HELP_FACTOR = 1.5
HELP_PLUS_MS = 30.0
PYTEST_TARGET = 1.02


def help_rows(quick: bool, pairs: int | None = None) -> list[Row]:
    pairs = pairs or (10 if quick else 20)
    with tempfile.TemporaryDirectory(prefix="sa-bench-help-") as tmp:
        env = isolated_env(Path(tmp) / "home")
        cmd = [str(BIN / "symphony-assist"), "--help"]
        result = ab(cmd, [sys.executable, "-c", "pass"], pairs, cwd=Path(tmp), env=env)
        heavy = heavy_imported(importtime(cmd, Path(tmp), env))
    limit = HELP_FACTOR * result.median_b + HELP_PLUS_MS / 1000
    return [
        Row(
            "`symphony-assist --help` (wall)",
            f"{ms(result.median_a)}" + (f"; imported {', '.join(heavy)}" if heavy else ""),
            f"`python -c pass` {ms(result.median_b)}",
            f"{result.ratio:.2f}×",
            f"≤ 1.5 × baseline + 30 ms (= {ms(limit)})",
            result.median_a <= limit and not heavy,
            {**result.summary(), "limit_ms": round(limit * 1000, 2), "heavy_imports": heavy},
        )
    ]


_LINE = re.compile(r"^(?P<name>\d .+?)\s+A\s+(?P<a>[\d.]+) ms\s+B\s+(?P<b>[\d.]+) ms\s+A/B\s+(?P<ratio>[\d.]+)\s+"
                   r"A-B\s+(?P<diff>[+-][\d.]+) ms")  # fmt: skip


def _pytest_inactive_quick(pairs: int) -> list[Row] | None:
    """Quick mode: only comparison 1 of bench/pytest_overhead.py, through its own functions (a pytest run
    costs seconds here: hypothesis and schemathesis load as plugins). None if its API changed."""
    try:
        from . import pytest_overhead as po

        with tempfile.TemporaryDirectory(prefix="sa-bench-pytest-") as tmp:
            root = Path(tmp) / "project"
            root.mkdir()
            po.make_project(root, 20)
            env = isolated_env(Path(tmp) / "home", SYMPHONY_ASSIST_CACHE_DIR=str(Path(tmp) / "cache"))
            env["SYMPHONY_ASSIST_OFFLINE"] = "1"
            cmd = [sys.executable, "-m", "pytest", "--co", "-q"]
            result = po.compare("inactive", cmd, [*cmd, "-p", "no:symphony_assist"], pairs, root, env, 0)
            a, b, ratio = result.median_a * 1000, result.median_b * 1000, result.ratio
    except (ImportError, AttributeError, TypeError):
        return None
    return [
        Row(
            "pytest --co, plugin installed and inactive",
            f"{a:.1f} ms",
            f"`-p no:symphony_assist` {b:.1f} ms",
            f"{ratio:.3f}×",
            f"≤ {PYTEST_TARGET}×",
            ratio <= PYTEST_TARGET,
            {"pairs": pairs, "diff_ms": round(a - b, 1), "via": "bench/pytest_overhead.py compare()"},
        )
    ]


def pytest_rows(quick: bool, pairs: int | None = None) -> list[Row]:
    script = HERE / "pytest_overhead.py"
    if not script.is_file():
        return [Row("pytest, plugin installed and inactive", "not run: bench/pytest_overhead.py is not in this tree")]
    pairs = pairs or (5 if quick else 20)
    if quick:
        rows = _pytest_inactive_quick(pairs)
        if rows is not None:
            return rows
    proc = subprocess.run(
        [sys.executable, str(script), "-n", str(pairs)], capture_output=True, text=True, check=False, timeout=1800
    )
    lines = {m["name"][0]: m for m in map(_LINE.match, proc.stdout.splitlines()) if m}
    if "1" not in lines:
        tail = (proc.stderr or proc.stdout).strip()[-300:]
        raise RuntimeError(f"bench/pytest_overhead.py exited {proc.returncode} without its A/B line: {tail}")
    inactive = lines["1"]
    ratio = float(inactive["ratio"])
    rows = [
        Row(
            "pytest --co, plugin installed and inactive",
            f"{inactive['a']} ms",
            f"`-p no:symphony_assist` {inactive['b']} ms",
            f"{ratio:.3f}×",
            f"≤ {PYTEST_TARGET}×",
            ratio <= PYTEST_TARGET,
            {"pairs": pairs, "diff_ms": float(inactive["diff"]), "output": proc.stdout.strip().splitlines()},
        )
    ]
    if "2" in lines:
        active = lines["2"]
        heavy = re.search(r"heavy modules imported on an active green run: (.*)$", proc.stdout, re.MULTILINE)
        rows.append(
            Row(
                "pytest, green run with --assist (plugin active)",
                f"{active['a']} ms" + (f"; imported {heavy.group(1)}" if heavy and heavy.group(1) != "none" else ""),
                f"plugin inactive {active['b']} ms",
                f"{float(active['ratio']):.3f}×",
                "≤ +10 ms (bench/pytest_overhead.py)",
                float(active["diff"]) <= 10.0,
                {"pairs": pairs, "diff_ms": float(active["diff"])},
            )
        )
    return rows
