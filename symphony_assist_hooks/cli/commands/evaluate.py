"""`symphony-assist eval`: review quality on labelled cases (#12); the engine is `evaluate.py`.

    symphony-assist [--offline] eval [--template NAME[,NAME]] [--model M] [--cases DIR|FILE] [--json]
                                     [--baseline previous.json] [--max-cost USD] [--check]
    symphony-assist eval --suite web-security [--json] [--check]

`--suite web-security` scores the offline security review and plain bandit on a generated corpus of labelled
web handlers, per category (TPR - FPR, `evaluate/websec.py`); it never calls a model. With --check it exits 1
when a category scores below bandit, or a figure is below the "web-security" entry of thresholds.json.

--findings says which findings of each review are scored: `merged` (default; what users get: the model's
and the local analyzers' findings, merged), `model` (those the model reported) or `analyzers` (those a
local analyzer reported; a finding both reported counts for both).

Without --cases the built-in suite runs. --template picks the review templates for diff cases and the
explain template for failing tests (default: the configured review templates, and `testing`); a case of
a kind no chosen template covers is skipped. --max-cost caps the whole run: once it is spent the rest is
answered by the local analyzers, and the run says how many answers that was.

Exit codes: 0, whatever the figures (a measurement, not a verdict), unless --check: then 1 when a figure
is below its floor in the suite's thresholds.json (for the engine that answered: "local" offline, else
the model) or, with --baseline, worse than in that run. CI runs `symphony-assist --offline eval --check`.
2 for a usage error (an unknown template, a malformed case, --check with nothing to check against).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...assistant.prompts import load_registry
from ...config import Settings
from ...errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ...evaluate.cases import load_cases, load_thresholds
from ...evaluate.gate import check, compare, regressions
from ...evaluate.runner import BUILTIN, EvalOptions, run_eval
from ...logsafe import clean, inert_json
from ...terminal.console import Console

__all__ = ["render", "run"]


def _templates(args: argparse.Namespace, settings: Settings) -> tuple[tuple[str, ...], str | None]:
    """(review templates, explain template) from --template, else the configured ones and `testing`."""

    registry = load_registry(settings.project_root)
    if not getattr(args, "templates", None):
        return tuple(t for t in settings.templates if registry.get(t).kind == "findings"), "testing"
    review: list[str] = []
    explain: list[str] = []
    for name in settings.templates:
        kind = registry.get(name).kind  # an unknown name: one line, exit 2
        if kind == "findings":
            review.append(name)
        elif kind == "explain":
            explain.append(name)
        else:
            raise UsageError(f"--template {name}: a '{kind}' template; eval measures review and explain templates")
    if len(explain) > 1:
        raise UsageError(f"--template: one explain template at a time, got {', '.join(explain)}")
    return tuple(review), (explain[0] if explain else None)


def _read_baseline(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--baseline {path!r}: cannot read it ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--baseline {path!r}: not JSON ({exc.msg}); pass the --json output of an earlier eval"
        ) from None
    if not isinstance(data, dict) or "figures" not in data or "cases" not in data:
        raise UsageError(f"--baseline {path!r}: not the --json output of `symphony-assist eval`")
    return data


def _run_websec(args: argparse.Namespace, console: Console) -> int:
    from ...evaluate.websec import check_websec, render_websec, run_websec  # deferred: bandit behind it

    if getattr(args, "cases", None) or getattr(args, "baseline", None):
        raise UsageError("--suite web-security builds its own cases: drop --cases and --baseline")
    doc = run_websec()
    problems = check_websec(doc, load_thresholds(None)) if getattr(args, "check", False) else []
    if getattr(args, "check", False):
        doc["check"] = {"passed": not problems, "problems": problems}
    for notice in doc["notices"]:
        console.notice(notice)
    if args.json:
        console.print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for line in render_websec(doc):
            console.print(line)
    for problem in problems:
        console.error(f"--check: {problem}")
    return EXIT_FINDINGS if problems else EXIT_OK


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if getattr(args, "suite", None) == "web-security":
        return _run_websec(args, console)
    review, explain = _templates(args, settings)
    cases_arg = getattr(args, "cases", None)
    cases = load_cases(cases_arg)
    baseline = _read_baseline(args.baseline) if getattr(args, "baseline", None) else None
    gate = bool(getattr(args, "check", False))
    thresholds = load_thresholds(cases_arg) if gate else None
    if gate and thresholds is None and baseline is None:
        where = "the built-in suite" if cases_arg is None else repr(cases_arg)
        raise UsageError(f"--check: no thresholds.json beside {where} and no --baseline to compare with")
    options = EvalOptions(
        review_templates=review,
        explain_template=explain,
        model=getattr(args, "model", None),
        temperature=getattr(args, "temperature", None),
        max_tokens=getattr(args, "max_tokens", None),
        suite=BUILTIN if cases_arg is None else str(cases_arg),
        findings=getattr(args, "findings", None) or "merged",
    )
    doc = run_eval(cases, settings, options, warn=console.notice)
    problems: list[str] = []
    if baseline is not None:
        doc["comparison"] = compare(baseline, doc)
        if gate:
            problems += [f"worse than --baseline: {line}" for line in regressions(doc["comparison"])]
    if thresholds is not None:
        problems += check(doc, thresholds)
    if gate:
        doc["check"] = {"passed": not problems, "problems": problems}
    usage = doc["usage"]
    for reason in usage["fallback_reasons"]:
        if doc["engine"] != "local":
            console.notice(
                f"{reason} — {usage['local_answers']} of {usage['answers']} answers came from the local analyzers"
            )
    for notice in usage["notices"]:
        console.notice(notice)
    if args.json:
        console.print(inert_json(json.dumps(doc, indent=2, ensure_ascii=False)))
    else:
        for line in render(doc):
            console.print(line)
    for problem in problems:
        console.error(f"--check: {problem}")
    return EXIT_FINDINGS if problems else EXIT_OK


# ---------------------------------------------------------------------------------------------- text
def _num(value: Any, width: int = 6) -> str:
    if value is None:
        return f"{'n/a':>{width}}"
    return f"{value:>{width}.3f}" if isinstance(value, float) else f"{value:>{width}}"


def _clean(text: Any) -> str:
    """Case ids, rules and categories may come from files or a model: nothing a terminal interprets."""
    return clean(str(text), keep_newlines=False)


def render(doc: Mapping[str, Any]) -> list[str]:
    """The result document as text: headline, cost, per family, per template, categories, worst cases."""
    out = _headline(doc)
    out += _families(doc["families"])
    out += _templates_table(doc["templates"])
    out += _categories(doc["categories"])
    if doc["worst"]:
        out += ["", "worst cases"]
        out += [f"  {_clean(w['id'])}: {'; '.join(_clean(d) for d in w['details'])}" for w in doc["worst"]]
    if "comparison" in doc:
        out += ["", *_comparison(doc["comparison"])]
    if "check" in doc:
        problems = doc["check"]["problems"]
        out += ["", f"check: FAILED ({len(problems)} below the bar)" if problems else "check: passed"]
    return out


def _headline(doc: Mapping[str, Any]) -> list[str]:
    fig, usage = doc["figures"], doc["usage"]
    engine = "the local analyzers (offline)" if doc["engine"] == "local" else f"model {_clean(doc['engine'])}"
    out = [
        f"eval: {fig['cases']} cases from the {_clean(doc['suite'])} suite, answered by {engine}; "
        f"{_clean(str(doc.get('findings', 'merged')))} findings scored, matching within ±{doc['tolerance']} line"
    ]
    if doc["skipped_cases"]:
        out.append(f"  ({doc['skipped_cases']} cases skipped: no chosen template covers their kind)")
    if fig["diff_cases"]:
        out.append(
            f"diffs     precision {_num(fig['precision'], 5)}  recall {_num(fig['recall'], 5)}  "
            f"f1 {_num(fig['f1'], 5)}   {fig['found']}/{fig['expected']} expected found, "
            f"{fig['false_positives']} false of {fig['findings']} findings"
        )
        out.append(
            f"clean     {_num(fig['fp_per_clean'], 5)} false positives per clean case "
            f"({fig['clean_quiet']}/{fig['clean_cases']} clean diffs without any)"
        )
    if fig["failure_cases"]:
        out.append(
            f"failures  {fig['failures_correct']}/{fig['failure_cases']} categorised correctly "
            f"({_num(fig['failure_accuracy'], 0)})"
        )
    out.append(
        f"cost      ${usage['cost_usd']:.4f}  {usage['api_requests']} requests  {usage['prompt_tokens']} prompt + "
        f"{usage['completion_tokens']} completion tokens  {usage['cache_hits']} cache hits  "
        f"{usage['local_answers']}/{usage['answers']} answers local"
    )
    return out


def _families(families: Mapping[str, Any]) -> list[str]:
    if not families:
        return []
    out = ["", f"{'family':<18}{'expected':>9}{'found':>7}{'recall':>8}{'findings':>10}{'false':>7}{'precision':>11}"]
    for name, f in families.items():
        out.append(
            f"{_clean(name):<18}{f['expected']:>9}{f['found']:>7}{_num(f['recall'], 8)}{f['findings']:>10}"
            f"{f['false_positives']:>7}{_num(f['precision'], 11)}"
        )
    return out


def _templates_table(templates: Mapping[str, Any]) -> list[str]:
    review = {k: v for k, v in templates.items() if "accuracy" not in v}
    out = ["", f"{'template':<18}{'findings':>9}{'false':>7}{'precision':>11}{'recall':>8}"] if review else []
    for name, t in review.items():
        out.append(
            f"{_clean(name):<18}{t['findings']:>9}{t['false_positives']:>7}{_num(t['precision'], 11)}"
            f"{_num(t['recall'], 8)}"
        )
    for name, t in templates.items():
        if name not in review:
            right = f"{t['correct']}/{t['cases']} failing tests right ({_num(t['accuracy'], 0)})"
            out += ([] if review else [""]) + [f"{_clean(name):<18}{right}"]
    return out


def _categories(categories: Mapping[str, Any]) -> list[str]:
    if not categories:
        return []
    out = ["", f"{'failure category':<20}{'cases':>6}{'right':>7}  answered"]
    for name, c in categories.items():
        answers = ", ".join(f"{_clean(k)} {v}" for k, v in c["answers"].items())
        out.append(f"{_clean(name):<20}{c['cases']:>6}{c['correct']:>7}  {answers}")
    return out


def _change(label: str, row: Mapping[str, Any]) -> str:
    return f"  {_clean(label):<26}{_num(row['before'], 9)} → {_num(row['after'], 9)}  {row['change']}"


def _comparison(cmp: Mapping[str, Any]) -> list[str]:
    base = cmp["baseline"]
    out = [f"compared with the baseline ({_clean(base.get('suite'))} suite, {_clean(base.get('engine'))})"]
    out += [_change(row["name"], row) for row in [*cmp["figures"], *cmp["usage"]] if row["change"] != "same"]
    out += [_change(f"{row['family']} {row['name']}", row) for row in cmp["families"]]
    out += [_change(f"{row['category']} accuracy", row) for row in cmp["categories"]]
    for label in ("better", "worse"):
        for c in cmp["cases"][label]:
            out.append(f"  {label}: {_clean(c['id'])} ({c['errors_before']} → {c['errors_after']} errors)")
    for label in ("added", "removed"):
        if cmp["cases"][label]:
            out.append(f"  {label}: {', '.join(_clean(i) for i in cmp['cases'][label])}")
    if not cmp["better"] and not cmp["worse"]:
        out.append("  no change in quality")
    return out
