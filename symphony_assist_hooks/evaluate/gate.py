"""Comparing two runs and the CI gate: what got better or worse, and which figures are under their floors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from .cases import THRESHOLDS
from .scoring import details

__all__ = ["COST", "QUALITY", "check", "compare", "regressions", "thresholds_from"]

_EPSILON = 1e-9

# (figure, direction): +1 when higher is better, -1 when lower is better.
QUALITY = (("precision", 1), ("recall", 1), ("f1", 1), ("fp_per_clean", -1), ("failure_accuracy", 1))
COST = (("cost_usd", -1), ("tokens", -1), ("api_requests", -1), ("local_answers", -1))


def _change(before: Any, after: Any, direction: int) -> str:
    if before == after:
        return "same"
    if before is None or after is None:
        return "n/a"
    if abs(float(after) - float(before)) < _EPSILON:
        return "same"
    return "better" if (float(after) - float(before)) * direction > 0 else "worse"


def _row(name: str, before: Any, after: Any, direction: int) -> dict[str, Any]:
    return {"name": name, "before": before, "after": after, "change": _change(before, after, direction)}


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from `before` to `after` (two result documents, e.g. `--baseline` and this run)."""
    bf, af = before.get("figures", {}), after.get("figures", {})
    figures = [_row(n, bf.get(n), af.get(n), d) for n, d in QUALITY]
    bu, au = before.get("usage", {}), after.get("usage", {})
    usage = [_row(n, bu.get(n), au.get(n), d) for n, d in COST]
    families = []
    bfam, afam = before.get("families", {}), after.get("families", {})
    for name in sorted(set(bfam) | set(afam)):
        for figure in ("recall", "precision"):
            row = _row(figure, bfam.get(name, {}).get(figure), afam.get(name, {}).get(figure), 1)
            if row["change"] != "same":
                families.append({"family": name, **row})
    categories = []
    bcat, acat = before.get("categories", {}), after.get("categories", {})
    for name in sorted(set(bcat) | set(acat)):
        row = _row("accuracy", bcat.get(name, {}).get("accuracy"), acat.get(name, {}).get("accuracy"), 1)
        if row["change"] != "same":
            categories.append({"category": name, **row})
    bcases = {c["id"]: c for c in before.get("cases", [])}
    acases = {c["id"]: c for c in after.get("cases", [])}
    better: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    for cid in (c for c in acases if c in bcases):
        was, now = int(bcases[cid]["errors"]), int(acases[cid]["errors"])
        if was != now:
            entry = {"id": cid, "errors_before": was, "errors_after": now, "details": details(acases[cid])}
            (better if now < was else worse).append(entry)
    quality = figures + families + categories
    return {
        "baseline": {k: before.get(k) for k in ("suite", "engine")},
        "figures": figures,
        "usage": usage,
        "families": families,
        "categories": categories,
        "cases": {
            "better": better,
            "worse": worse,
            "added": sorted(set(acases) - set(bcases)),
            "removed": sorted(set(bcases) - set(acases)),
        },
        "better": any(r["change"] == "better" for r in quality) or bool(better),
        "worse": any(r["change"] == "worse" for r in quality) or bool(worse),
    }


def regressions(comparison: Mapping[str, Any]) -> list[str]:
    """One line per quality figure that got worse since the baseline (headline, family, category)."""
    out = [
        f"{r['name']} {_fmt(r['before'])} → {_fmt(r['after'])}" for r in comparison["figures"] if r["change"] == "worse"
    ]
    out += [
        f"{r['family']} {r['name']} {_fmt(r['before'])} → {_fmt(r['after'])}"
        for r in comparison["families"]
        if r["change"] == "worse"
    ]
    out += [
        f"{r['category']} accuracy {_fmt(r['before'])} → {_fmt(r['after'])}"
        for r in comparison["categories"]
        if r["change"] == "worse"
    ]
    return out


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


_FLOORS = ("precision", "recall", "f1", "failure_accuracy")


def thresholds_from(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The floors (and the false-positive ceiling) this run meets: what `thresholds.json` stores per engine."""
    fig = doc["figures"]
    out: dict[str, Any] = {name: fig[name] for name in (*_FLOORS, "fp_per_clean") if fig.get(name) is not None}
    families = {
        name: {k: v for k, v in ((k, fam.get(k)) for k in ("precision", "recall")) if v is not None}
        for name, fam in doc.get("families", {}).items()
    }
    out["families"] = {name: floors for name, floors in families.items() if floors}
    return out


def check(doc: Mapping[str, Any], thresholds: Mapping[str, Any], source: str = THRESHOLDS) -> list[str]:
    """Every figure of `doc` below its floor or above its ceiling, as lines; [] when the gate passes.

    Raises UsageError when `thresholds` has no entry for the engine that answered.
    """
    engine = str(doc.get("engine"))
    floors = thresholds.get(engine)
    if not isinstance(floors, Mapping):
        known = ", ".join(sorted(thresholds)) or "none"
        raise UsageError(
            f"--check: {source} has no thresholds for engine '{engine}' (it has: {known}); "
            "add them, or compare with --baseline"
        )
    problems = []
    fig = doc["figures"]
    for name in _FLOORS:
        if name in floors and _below(fig.get(name), floors[name]):
            problems.append(f"{name} {_fmt(fig.get(name))} is below its floor {_fmt(float(floors[name]))}")
    ceiling = floors.get("fp_per_clean")
    value = fig.get("fp_per_clean")
    if ceiling is not None and value is not None and value > float(ceiling) + _EPSILON:
        problems.append(f"fp_per_clean {_fmt(value)} is above its ceiling {_fmt(float(ceiling))}")
    families = doc.get("families", {})
    for name, fam_floors in sorted(floors.get("families", {}).items()):
        for figure, floor in sorted(fam_floors.items()):
            got = families.get(name, {}).get(figure)
            if _below(got, floor):
                problems.append(f"{name} {figure} {_fmt(got)} is below its floor {_fmt(float(floor))}")
    return problems


def _below(value: Any, floor: Any) -> bool:
    return value is None or float(value) < float(floor) - _EPSILON
