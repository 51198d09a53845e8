"""The offline security review on labelled web handlers, and what the data-flow analysis costs a review.

Two parts, both in this process:
- quality: `symphony-assist eval --suite web-security` (evaluate/websec.py): our score and plain bandit's on the
  same generated corpus, per category TPR - FPR; target: overall at least bandit + 15 points, and no category
  below bandit.
- speed: the `security` analyzer on a typical commit (five of this project's own modules as whole-file
  targets, the miss path of an offline review) with the data-flow analysis and with it switched off
  (`security._dataflow` replaced by a no-op), alternating, median of per-pair ratios; target ≤ 1.25×. The
  cache-hit path never imports the analyzers (bench/hook.py lists what a hit imports).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from .common import Row

ROOT = Path(__file__).resolve().parent.parent
COMMIT = (
    "symphony_assist_hooks/review/pipeline.py",
    "symphony_assist_hooks/config/__init__.py",
    "symphony_assist_hooks/git/changes.py",
    "symphony_assist_hooks/report/html.py",
    "symphony_assist_hooks/cli/commands/evaluate.py",
)
TARGET_RATIO = 1.25
TARGET_MARGIN = 0.15


def _quality() -> list[Row]:
    from symphony_assist_hooks.evaluate.websec import render_websec, run_websec

    doc = run_websec()
    overall = doc["overall"]
    below = [name for name, row in doc["categories"].items() if row["ours"]["score"] < row["bandit"]["score"]]
    table = "\n".join(["```", *render_websec(doc), "```"])
    return [
        Row(
            "web-security corpus: offline review vs bandit (mean TPR-FPR, 14 categories)",
            f"{overall['ours'] * 100:+.1f}",
            f"bandit {overall['bandit'] * 100:+.1f}",
            f"{overall['margin'] * 100:+.1f} points",
            "≥ +15 points, no category below bandit",
            overall["margin"] >= TARGET_MARGIN and not below,
            {"categories_below_bandit": below, "cases": doc["cases"], "markdown": table},
        )
    ]


def _speed(quick: bool) -> list[Row]:
    from symphony_assist_hooks.analyzers import security
    from symphony_assist_hooks.analyzers.common import Target

    targets = [Target.whole_file(path, (ROOT / path).read_text(encoding="utf-8")) for path in COMMIT]
    analyzer = security.SecurityAnalyzer(find_secrets=lambda _: [])
    analyzer.analyze(targets)  # bandit's import and plugin load, paid once by either arm
    real = security._dataflow

    def off(parsed: Any, result: Any) -> dict[str, Any]:
        return {}

    def timed(with_flow: bool) -> float:
        security._dataflow = real if with_flow else off  # type: ignore[assignment]
        try:
            started = time.perf_counter()
            analyzer.analyze(targets)
            return time.perf_counter() - started
        finally:
            security._dataflow = real  # type: ignore[assignment]

    pairs = 5 if quick else 15
    ratios, with_times, without_times = [], [], []
    for _ in range(pairs):
        base = timed(False)
        flow = timed(True)
        without_times.append(base)
        with_times.append(flow)
        ratios.append(flow / base)
    ratio = statistics.median(ratios)
    lines = sum(len(t.lines) for t in targets)
    return [
        Row(
            f"security analyzer on a typical commit ({len(targets)} files, {lines} lines), with data flow",
            f"{statistics.median(with_times) * 1000:.1f} ms",
            f"{statistics.median(without_times) * 1000:.1f} ms without",
            f"{ratio:.2f}×",
            f"≤ {TARGET_RATIO}×",
            ratio <= TARGET_RATIO,
            {"pairs": pairs},
        )
    ]


def run(quick: bool) -> list[Row]:
    return _quality() + _speed(quick)
