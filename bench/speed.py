"""Start-up costs a user feels: `symphony-assist --help`, and pytest with the plugin installed but inactive.

* `--help`: `symphony-assist --help` vs `python -c pass`, alternating whole processes; target: the median
  of --help ≤ 1.5 × the median of `python -c pass` + 30 ms (docs/reference.md#performance-goals allows 30 ms).
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


_GOAL = re.compile(r"^(?P<verdict>met|MISSED) +(?P<name>[^:]+): (?P<figure>.+?)(?: (?P<target><= .+))?$")
_BASELINES = {
    "inactive plugin": "`-p no:symphony_assist`",
    "inactive plugin, bare pytest": "an empty `-p` module, autoload off",
    "active green run": "plugin installed, inactive",
}


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
            cpu = getattr(result, "cpu_ratio", None)
    except (ImportError, AttributeError, TypeError):
        return None
    figure = f"wall A/B {ratio:.3f}" + (f", cpu A/B {cpu:.3f}" if cpu is not None else "") + f" ({a:.0f} vs {b:.0f} ms)"
    return [
        Row(
            "pytest: inactive plugin (bench/pytest_overhead.py)",
            figure,
            _BASELINES["inactive plugin"],
            f"{ratio:.3f}×",
            f"≤ {PYTEST_TARGET}",
            ratio <= PYTEST_TARGET and (cpu is None or cpu <= PYTEST_TARGET),
            {"pairs": pairs, "median_a_ms": round(a, 1), "median_b_ms": round(b, 1), "cpu_ratio": cpu},
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
        [sys.executable, str(script), "-n", str(pairs)], capture_output=True, text=True, check=False, timeout=3600
    )
    rows = []
    for m in filter(None, map(_GOAL.match, proc.stdout.splitlines())):
        ratio = re.search(r"wall A/B ([\d.]+)", m["figure"])
        rows.append(
            Row(
                f"pytest: {m['name']} (bench/pytest_overhead.py)",
                m["figure"],
                _BASELINES.get(m["name"], ""),
                f"{float(ratio.group(1)):.3f}×" if ratio else "",
                m["target"].replace("<=", "≤") if m["target"] else "the script's goal",
                m["verdict"] == "met",
                {"pairs": pairs, "output": proc.stdout.strip().splitlines()},
            )
        )
    if not rows:
        tail = (proc.stderr or proc.stdout).strip()[-300:]
        raise RuntimeError(f"bench/pytest_overhead.py exited {proc.returncode} without a goal line: {tail}")
    return rows
