"""Smoke tests of the benchmark runner (bench/): structure and plumbing on tiny inputs, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cost, run, scale, throughput  # noqa: E402
from bench.common import Row, ab  # noqa: E402

COLUMNS = {"benchmark", "figure", "baseline", "ratio", "target", "met", "details"}


def test_quick_json_run_of_a_cheap_subset() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "help", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["quick"] is True
    assert {"nproc", "cpu", "python", "date"} <= data["machine"].keys()
    assert data["seconds_by_benchmark"].keys() == {"help"}
    (row,) = data["rows"]
    assert set(row) == COLUMNS
    assert row["benchmark"].startswith("`symphony-assist --help`")
    assert row["met"] in (True, False)
    assert row["details"]["pairs"] == 10
    assert row["details"]["heavy_imports"] == []


def test_table_check_flag_and_failing_benchmarks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missed(quick: bool) -> list[Row]:
        return [Row("a | b", "2 ms", "1 ms", "2.00×", "≤ 1.5×", False, {"markdown": "Note: extra table"})]

    def broken(quick: bool) -> list[Row]:
        raise ValueError("no such thing")

    monkeypatch.setattr(run, "BENCHMARKS", {"missed": (missed, ""), "broken": (broken, "")})
    assert run.main(["--only", "missed,broken"]) == 0  # a missed target alone never fails the run
    out = capsys.readouterr().out
    assert "| a \\| b | 2 ms | 1 ms | 2.00× | ≤ 1.5× | **NO** |" in out
    assert "| broken | error: ValueError: no such thing |" in out
    assert "Note: extra table" in out
    assert run.main(["--only", "missed", "--check", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["missed"] == ["a | b"]
    with pytest.raises(SystemExit):
        run.main(["--only", "nope"])


def test_ab_pairs_and_peak_rss() -> None:
    result = ab([sys.executable, "-c", "pass"], [sys.executable, "-c", "x = bytearray(40 << 20)"], 2, warmup=0)
    assert len(result.a) == len(result.b) == 2
    assert result.ratio > 0
    assert result.rss_b_mib > result.rss_a_mib + 20  # wait4's peak RSS is the child's, not the runner's


def test_scale_rows_on_a_tiny_cache() -> None:
    rows = scale.run(True, large=1_500, rounds=2, gets=20)
    assert [r.benchmark[:24] for r in rows] == [
        "cache hit latency at 1,5",
        "cache open + one hit in ",
        "cache disk per entry",
    ]
    assert all(r.met in (True, False) for r in rows)
    assert rows[0].details["percentiles"]["large"]["p50_us"] > 0


def test_throughput_counts_requests_against_the_ideal() -> None:
    (row,) = throughput.run(True, latency=0.05, repeats=1, hunks=12)
    (rep,) = row.details["repeats"]
    assert rep["requests"] >= 3  # max_request_tokens forces several requests
    assert rep["ideal_s"] == pytest.approx(-(-rep["requests"] // row.details["concurrency"]) * 0.05)
    assert row.ratio.endswith("×")


def test_step_plan_breakpoint_forgotten_file_and_fallback() -> None:
    old = {
        "src/m.py": b"def f(x):\n    y = x\n    return y\n",
        "tests/test_m.py": b"def test_f():\n    assert True\n",
        "README": b"hello\n",
    }
    new = {
        "src/m.py": b"def f(x):\n    y = x + 1\n    z = y * 2\n    return z\n",
        "tests/test_m.py": b"def test_f():\n    assert f(1) == 4\n",
        "README": b"hello\n",
    }
    plan = cost.plan_step(old, new)
    assert plan.fix == "src/m.py"
    assert plan.forgot == "tests/test_m.py"
    assert b"breakpoint()" in plan.attempt["src/m.py"]
    assert plan.retry["src/m.py"] == new["src/m.py"]
    assert plan.retry["tests/test_m.py"] == old["tests/test_m.py"]  # staged only by the amend
    two_blocks_old = b"a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
    two_blocks_new = b"a = 10\nb = 2\nc = 3\nd = 4\ne = 50\n"
    assert cost.inject_breakpoint(two_blocks_old, two_blocks_new) is None  # module level: no indent
    assert cost.revert_last_change(two_blocks_old, two_blocks_new) == b"a = 10\nb = 2\nc = 3\nd = 4\ne = 5\n"


def test_token_count_falls_back_to_the_fakes_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_venv(name: str, requirements: object, **kw: object) -> Path:
        raise RuntimeError("offline")

    monkeypatch.setattr(cost, "ensure_venv", no_venv)
    counts, how = cost.count_tokens(["abcd", "abcde", ""])
    assert counts == [1, 2, 0]
    assert how.startswith("ceil(chars/4)")


def test_the_blame_corpus_and_its_scorer() -> None:
    from bench import blame

    data = blame.corpus()
    mutations = data["mutations"]
    assert len(mutations) >= 30 and len({m["project"] for m in mutations}) >= 3
    assert {m["project"] for m in mutations} <= {p["name"] for p in data["projects"]}
    assert all(m["old"] != m["new"] and int(m["line"]) > 0 for m in mutations)
    source = "def outer(x):\n    def inner(y):\n        return y + 1\n    return inner(x)\n"
    assert blame.enclosing_function(source, 3) == "inner"
    assert blame.enclosing_function(source, 4) == "outer"
    assert blame.TEST_ADVICE.search("if the behaviour changed on purpose, update the expected value in the test")
    assert not blame.TEST_ADVICE.search("Fix the code, not the test: check `net` at prices.py:3")
    ok = {"func": 0.9, "line": 0.6, "advice": 0, "longest": 250}
    assert blame.met(ok) and not blame.met({**ok, "advice": 1}) and not blame.met({**ok, "longest": 301})
