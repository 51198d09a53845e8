"""`eval --suite web-security`: the offline security review against plain bandit, scored the OWASP way.

Per category, over the labelled web handlers of `webcorpus.py`: TPR = flagged vulnerable cases / vulnerable
cases, FPR = flagged safe cases / safe cases, score = TPR - FPR (a tool that flags everything scores 0, like
one that flags nothing); the overall score is the mean over the categories. A case counts as flagged when a
finding of its category is reported anywhere in its file.

Both tools run in the same process on the same files: ours is the `security` analyzer as a review runs it
(bandit, filtered on evidence, plus the data-flow findings); the baseline is bandit with its default
configuration and every check it reports, each mapped to a category by its test id (`BANDIT_CATEGORIES`;
bandit's import checks, B4xx, say nothing about a use and map to none).

The gate (`--check`) reads the "web-security" entry of the built-in `thresholds.json`: a floor for the
overall score and for each category, and `margin_over_bandit` (points of 100) that the overall score must
keep over bandit's; in addition no category may score below bandit's.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..analyzers.common import Target
from ..analyzers.security import SecurityAnalyzer
from ..analyzers.taint import CATEGORIES
from .webcorpus import CATEGORY_NAMES, WebCase, build

__all__ = ["BANDIT_CATEGORIES", "SUITE", "category_of_rule", "check_websec", "render_websec", "run_websec", "score"]

SUITE = "web-security"
_CHECKS: dict[str, tuple[str, ...]] = {
    "cmdi": ("B601", "B602", "B603", "B604", "B605", "B606", "B607", "B609"),
    "sqli": ("B608", "B610", "B611"),
    "codei": ("B102", "B307"),
    "xss": ("B308", "B701", "B702", "B703", "B704"),
    "deserialization": ("B301", "B302", "B506", "B614"),
    "xxe": ("B313", "B314", "B315", "B316", "B317", "B318", "B319", "B320"),
    "hash": ("B303", "B324"),
    "weakrand": ("B311",),
}
BANDIT_CATEGORIES = {test_id: category for category, ids in _CHECKS.items() for test_id in ids}


def category_of_rule(rule: str) -> str | None:
    """The corpus category of one of our finding rules (bandit/Bxxx or taint/...), None when it has none."""

    if rule.startswith("bandit/"):
        return BANDIT_CATEGORIES.get(rule.split("/", 1)[1])
    for category, (name, _, _) in CATEGORIES.items():
        if name == rule:
            return category
    return None


def _path(case: WebCase) -> str:
    return f"webcases/{case.id}.py"


def _ours(cases: Sequence[WebCase]) -> tuple[dict[str, set[str]], list[str]]:

    targets = [Target.whole_file(_path(c), c.text) for c in cases]
    analysis = SecurityAnalyzer(find_secrets=lambda _: []).analyze(targets)
    flagged: dict[str, set[str]] = {}
    for finding in analysis.findings:
        category = category_of_rule(finding.rule)
        if category is not None:
            flagged.setdefault(finding.path, set()).add(category)
    return flagged, list(analysis.notices)


def _bandit(cases: Sequence[WebCase]) -> dict[str, set[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from bandit.core import config as b_config
        from bandit.core import manager as b_manager
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    flagged: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="symphony-websec-") as tmp:
        by_file: dict[str, str] = {}
        for index, case in enumerate(cases):
            copy = Path(tmp, f"case_{index}.py")
            copy.write_text(case.text, encoding="utf-8")
            by_file[str(copy)] = _path(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            manager = b_manager.BanditManager(b_config.BanditConfig(), "file")
        manager.discover_files(list(by_file))
        manager.run_tests()
        for issue in manager.get_issue_list():
            category = BANDIT_CATEGORIES.get(str(issue.test_id))
            if category is not None:
                flagged.setdefault(by_file[str(issue.fname)], set()).add(category)
    return flagged


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def score(cases: Sequence[WebCase], flagged: Mapping[str, set[str]]) -> dict[str, Any]:
    """Per category TP/FP counts, TPR, FPR and TPR-FPR; `overall` the mean score over categories."""
    categories: dict[str, Any] = {}
    for name in CATEGORY_NAMES:
        mine = [c for c in cases if c.category == name]
        vulnerable = [c for c in mine if c.vulnerable]
        safe = [c for c in mine if not c.vulnerable]
        tp = sum(name in flagged.get(_path(c), set()) for c in vulnerable)
        fp = sum(name in flagged.get(_path(c), set()) for c in safe)
        tpr, fpr = _ratio(tp, len(vulnerable)), _ratio(fp, len(safe))
        categories[name] = {
            "tp": tp,
            "fn": len(vulnerable) - tp,
            "fp": fp,
            "tn": len(safe) - fp,
            "tpr": tpr,
            "fpr": fpr,
            "score": round(tpr - fpr, 4),
        }
    overall = round(sum(c["score"] for c in categories.values()) / len(categories), 4) if categories else 0.0
    return {"overall": overall, "categories": categories}


def run_websec(cases: Sequence[WebCase] | None = None) -> dict[str, Any]:
    """Build (or take) the corpus, run both tools, score them: the result document."""
    corpus = list(cases) if cases is not None else build()
    ours, notices = _ours(corpus)
    theirs = _bandit(corpus)
    mine, base = score(corpus, ours), score(corpus, theirs)
    missed = [c.id for c in corpus if c.vulnerable and c.category not in ours.get(_path(c), set())]
    false = [c.id for c in corpus if not c.vulnerable and c.category in ours.get(_path(c), set())]
    return {
        "suite": SUITE,
        "engine": "local",
        "cases": len(corpus),
        "vulnerable": sum(c.vulnerable for c in corpus),
        "safe": sum(not c.vulnerable for c in corpus),
        "overall": {
            "ours": mine["overall"],
            "bandit": base["overall"],
            "margin": round(mine["overall"] - base["overall"], 4),
        },
        "categories": {
            name: {
                "name": CATEGORY_NAMES[name],
                "cases": sum(c.category == name for c in corpus),
                "ours": mine["categories"][name],
                "bandit": base["categories"][name],
            }
            for name in CATEGORY_NAMES
        },
        "missed": missed,
        "false_positives": false,
        "notices": notices,
    }


def check_websec(doc: Mapping[str, Any], thresholds: Mapping[str, Any] | None) -> list[str]:
    """Every gate the run fails, as lines ([] when it passes)."""
    problems: list[str] = []
    for name, row in doc["categories"].items():
        if row["ours"]["score"] < row["bandit"]["score"] - 1e-9:
            problems.append(
                f"{name}: score {row['ours']['score']:+.3f} is below bandit's {row['bandit']['score']:+.3f}"
            )
    floors = (thresholds or {}).get(SUITE)
    if not isinstance(floors, Mapping):
        return [*problems, f"thresholds.json has no '{SUITE}' entry; add one (see `eval --suite {SUITE} --json`)"]
    overall = doc["overall"]
    if overall["ours"] < float(floors.get("overall", 0)) - 1e-9:
        problems.append(f"overall score {overall['ours']:+.3f} is below its floor {float(floors['overall']):+.3f}")
    margin = float(floors.get("margin_over_bandit", 0)) / 100
    if overall["margin"] < margin - 1e-9:
        problems.append(f"overall margin over bandit {overall['margin'] * 100:+.1f} points is below {margin * 100:.0f}")
    for name, floor in sorted((floors.get("categories") or {}).items()):
        got = doc["categories"].get(name, {}).get("ours", {}).get("score")
        if got is None or got < float(floor) - 1e-9:
            problems.append(f"{name} score {got} is below its floor {float(floor):+.3f}")
    return problems


def render_websec(doc: Mapping[str, Any]) -> list[str]:
    """The per-category table as text."""
    out = [
        f"eval: {doc['cases']} web handler cases ({doc['vulnerable']} vulnerable, {doc['safe']} safe) in 14 "
        "categories; score = TPR - FPR per category",
        f"{'category':<24} {'cases':>5}  {'ours':>7} {'TPR':>5} {'FPR':>5}  {'bandit':>7} {'TPR':>5} {'FPR':>5}",
    ]
    for row in doc["categories"].values():
        o, b = row["ours"], row["bandit"]
        out.append(
            f"{row['name']:<24} {row['cases']:>5}  {o['score'] * 100:>+7.1f} {o['tpr']:>5.2f} {o['fpr']:>5.2f}  "
            f"{b['score'] * 100:>+7.1f} {b['tpr']:>5.2f} {b['fpr']:>5.2f}"
        )
    overall = doc["overall"]
    out.append(
        f"{'overall':<24} {'':>5}  {overall['ours'] * 100:>+7.1f} {'':>11}  {overall['bandit'] * 100:>+7.1f}   "
        f"(margin {overall['margin'] * 100:+.1f} points)"
    )
    return out
