"""Coverage of the local analyzers: do they answer usefully when the model is not there?

    python bench/coverage.py [--quick] [--json]

Three measures over a corpus written for the purpose (bench/corpus/, see its README.md):

* failing tests: a small project's tests are run by pytest in a subprocess and every failing report is
  recorded as a `Failure` (bench/corpus/reportdump.py); the `testing` analyzer must give the expected
  category AND a specific explanation (it names the test and every detail listed in expected.json).
* risky diffs: `security` + `code_review` must report a finding of the expected family on the expected line.
* clean diffs that only look risky: any finding is a false positive.

Prints a markdown table (or the figures as JSON) and exits 1 when a measure is under its target, so CI can
gate on it. Fake secrets are generated at run time: no real-looking token is committed. `--quick` skips the
timing repeats (the full run also reports how long the analyzers take per diff and per failure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
sys.path.insert(0, str(HERE.parent))

from symphony_assist_hooks.analyzers import run_local_review  # noqa: E402
from symphony_assist_hooks.analyzers.common import Target  # noqa: E402
from symphony_assist_hooks.explainers import TestingAnalyzer  # noqa: E402
from symphony_assist_hooks.findings import Failure, Finding  # noqa: E402

TARGETS = {"failing": 0.80, "risky": 0.80, "clean": 0.80}

# A finding "covers" an expectation when its rule matches one of the family's patterns.
FAMILIES = {
    "injection": ["bandit/B60[12456789]", "bandit/B61[01]", "js/command-injection", "js/sql-injection", "shell/eval"],
    "deserialization": ["bandit/B30[12]", "bandit/B506", "bandit/B614"],
    "weak-crypto": ["bandit/B30[345]", "bandit/B324", "bandit/B505"],
    "secret": ["secret", "bandit/B10[567]"],
    "debug": ["debug-leftover"],
    "swallowed": ["swallowed-exception", "ruff/E722", "ruff/BLE001"],
    "eval": ["bandit/B307", "bandit/B102", "js/eval"],
    "tempfile": ["bandit/B306", "bandit/B108"],
    "assert-auth": ["bandit/B101"],
    "tls": ["bandit/B501", "bandit/B323", "bandit/B50[234]", "js/tls-verify-disabled"],
    "conflict": ["conflict-marker"],
    "xss": ["bandit/B308", "bandit/B70[1234]", "js/xss"],
    "pipe-to-shell": ["shell/pipe-to-shell"],
    "mutable-default": ["ruff/B006", "mutable-default"],
    "random-token": ["bandit/B311"],
    "xxe": ["bandit/B31[3-9]", "bandit/B320"],
    "debug-server": ["bandit/B201"],
    "permissions": ["bandit/B103", "shell/world-writable"],
    "undefined-name": ["ruff/F821"],
    "timeout": ["bandit/B113"],
    "tar": ["bandit/B202"],
}


# -- fake secrets -------------------------------------------------------------------------------------------
def fake_secret(kind: str, rng: random.Random) -> str:
    """A realistic-looking but random credential; prefixes are concatenated so none is written literally."""
    base32 = string.ascii_uppercase + "234567"  # an AWS access key id is base32 after its prefix
    alnum = string.ascii_letters + string.digits

    def pick(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    if kind == "aws":
        return "AK" + "IA" + pick(base32, 16)
    if kind == "github":
        return "gh" + "p_" + pick(alnum, 36)
    if kind == "stripe":
        return "sk" + "_live_" + pick(alnum, 24)
    if kind == "password":
        return pick(alnum, 14) + "!" + pick(string.digits, 3)
    if kind == "pem":
        body = "\n".join(pick(alnum + "+/", 64) for _ in range(6))
        label = "RSA " + "PRIVATE KEY"
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
    raise ValueError(f"unknown fake secret kind {kind!r}")


# -- diff cases ---------------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    about: str
    target: Target
    expects: list[tuple[int, str]] = field(default_factory=list)


_PLACEHOLDER = re.compile(r"\{\{SECRET:(\w+)\}\}")


def load_case(path: Path, rng: random.Random) -> Case:
    """Parse a `.case` file: `#! key: value` headers, then diff lines (`+` added, ` ` context, `-` removed)."""
    headers: dict[str, list[str]] = {}
    lines: list[str] = []
    changed: set[int] = set()
    renumber: dict[int, int] = {}
    original = 0
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("#! "):
            key, _, value = raw[3:].partition(":")
            headers.setdefault(key.strip(), []).append(value.strip())
            continue
        marker, content = raw[:1], raw[1:]
        if marker == "-":
            continue
        if marker not in {"+", " "}:
            raise ValueError(f"{path.name}: a diff line must start with '+', '-' or ' ': {raw!r}")
        original += 1
        renumber[original] = len(lines) + 1
        expanded = _PLACEHOLDER.sub(lambda m: fake_secret(m.group(1), rng), content).split("\n")
        for piece in expanded:
            lines.append(piece)
            if marker == "+":
                changed.add(len(lines))
    expects = []
    for spec in headers.get("expect", []):
        number, family = spec.split()
        if family not in FAMILIES:
            raise ValueError(f"{path.name}: unknown family {family!r}")
        expects.append((renumber[int(number)], family))
    target = Target(headers["path"][0], "\n".join(lines) + "\n", frozenset(changed))
    return Case(path.stem, (headers.get("about") or [""])[0], target, expects)


def _covers(finding: Finding, line: int, family: str) -> bool:
    return finding.line <= line <= finding.end_line and any(fnmatch(finding.rule, p) for p in FAMILIES[family])


def run_diffs(kind: str, rng: random.Random) -> dict[str, Any]:
    cases = [load_case(p, rng) for p in sorted((CORPUS / "diffs" / kind).glob("*.case"))]
    hits, misses, false_positives, notices = 0, [], [], set()
    started = time.perf_counter()
    for case in cases:
        findings, said = run_local_review(["security", "code_review"], [case.target])
        notices.update(said)
        if kind == "clean":
            false_positives += [f"{case.name}: {f.path}:{f.line} {f.rule} ({f.title})" for f in findings]
            hits += not findings
            continue
        missing = [(ln, fam) for ln, fam in case.expects if not any(_covers(f, ln, fam) for f in findings)]
        if missing:
            got = ", ".join(f"{f.line}:{f.rule}" for f in findings) or "nothing"
            misses.append(f"{case.name}: expected {missing}, got {got}")
        else:
            hits += 1
    return {
        "cases": len(cases),
        "ok": hits,
        "share": hits / len(cases) if cases else 0.0,
        "misses": misses,
        "false_positives": false_positives,
        "fp_per_diff": len(false_positives) / len(cases) if cases else 0.0,
        "notices": sorted(notices),
        "seconds": time.perf_counter() - started,
    }


# -- failing tests ------------------------------------------------------------------------------------------
def collect_failures(workdir: Path) -> list[Failure]:
    """Run the failing corpus with pytest in a subprocess and read back every failing report."""
    project = workdir / "project"
    shutil.copytree(CORPUS / "failing", project, ignore=shutil.ignore_patterns("__pycache__", "expected.json"))
    for broken in project.rglob("*.broken"):  # kept unparsable on purpose, but not as .py in the repo
        broken.rename(broken.with_suffix(""))
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    out = workdir / "reports.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(CORPUS), REPORTDUMP_PATH=str(out), PYTHONDONTWRITEBYTECODE="1")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "reportdump",
        "-p",
        "no:randomly",
        "-p",
        "no:symphony_assist",
        "--continue-on-collection-errors",
        "-c",
        str(project / "pytest.ini"),
        "--rootdir",
        str(project),
    ]
    subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    if not out.exists():
        raise SystemExit("the failing-test corpus produced no reports: is pytest installed?")
    return [Failure(**json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_failures(workdir: Path) -> dict[str, Any]:
    expected: dict[str, dict[str, Any]] = json.loads((CORPUS / "failing" / "expected.json").read_text("utf-8"))
    expected.pop("_about", None)
    failures = {f.test_id: f for f in collect_failures(workdir)}
    analyzer = TestingAnalyzer(root=workdir / "project")
    ok, misses, by_category, heldout = 0, [], {}, [0, 0]
    started = time.perf_counter()
    for test_id, want in expected.items():
        failure = failures.get(test_id)
        if failure is None:
            misses.append(f"{test_id}: did not fail in this run")
            continue
        got = analyzer.explain(failure)
        text = f"{got.explanation}\n{got.fix}"
        name = test_id.split("::")[-1].split("[")[0]
        absent = [m for m in want["mentions"] if m not in text]
        names_test = name in text or test_id in text
        good = got.category == want["category"] and not absent and names_test and got.source == "local"
        if want.get("heldout"):
            heldout[0] += good
            heldout[1] += 1
        stats = by_category.setdefault(want["category"], [0, 0])
        stats[0] += good
        stats[1] += 1
        if good:
            ok += 1
        else:
            why = f"category {got.category}" if got.category != want["category"] else f"missing {absent}"
            misses.append(f"{test_id}: expected {want['category']}, {why}")
    unexpected = sorted(set(failures) - set(expected))
    return {
        "cases": len(expected),
        "ok": ok,
        "share": ok / len(expected) if expected else 0.0,
        "misses": misses,
        "unlabelled_failures": unexpected,
        "by_category": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_category.items())},
        "heldout": f"{heldout[0]}/{heldout[1]}",
        "seconds": time.perf_counter() - started,
    }


def timing(workdir: Path, rng: random.Random) -> dict[str, float]:
    """Milliseconds per risky diff (both templates) and per failure explanation, median of repeats."""
    cases = [load_case(p, rng) for p in sorted((CORPUS / "diffs" / "risky").glob("*.case"))]
    targets = [c.target for c in cases]
    per_diff = []
    for _ in range(3):
        started = time.perf_counter()
        run_local_review(["security", "code_review"], targets)
        per_diff.append((time.perf_counter() - started) * 1000 / len(targets))
    failures = [Failure(**json.loads(line)) for line in (workdir / "reports.jsonl").read_text("utf-8").splitlines()]
    analyzer = TestingAnalyzer(root=workdir / "project")
    per_failure = []
    for _ in range(5):
        started = time.perf_counter()
        for failure in failures:
            analyzer.explain(failure)
        per_failure.append((time.perf_counter() - started) * 1000 / len(failures))
    return {"ms_per_diff_batched": sorted(per_diff)[1], "ms_per_failure": sorted(per_failure)[2]}


# -- report -------------------------------------------------------------------------------------------------
def measure(quick: bool) -> dict[str, Any]:
    rng = random.Random(20240611)
    with tempfile.TemporaryDirectory(prefix="symphony-coverage-") as tmp:
        workdir = Path(tmp)
        failing = run_failures(workdir)
        risky = run_diffs("risky", rng)
        clean = run_diffs("clean", rng)
        timings = {} if quick else timing(workdir, rng)
    shares = {"failing": failing["share"], "risky": risky["share"], "clean": clean["share"]}
    return {
        "failing": failing,
        "risky": risky,
        "clean": clean,
        "timing": timings,
        "targets": TARGETS,
        "passed": all(shares[k] >= TARGETS[k] for k in TARGETS),
    }


def markdown(result: dict[str, Any]) -> str:
    f, r, c = result["failing"], result["risky"], result["clean"]
    rows = [
        ("failing tests: right category + specific explanation", f, "failing"),
        ("risky diffs: right finding on the right line", r, "risky"),
        ("clean diffs without any finding", c, "clean"),
    ]
    out = ["| measure | result | share | target | |", "|---|---|---|---|---|"]
    for label, data, key in rows:
        mark = "pass" if data["share"] >= TARGETS[key] else "FAIL"
        out.append(f"| {label} | {data['ok']}/{data['cases']} | {data['share']:.1%} | ≥ {TARGETS[key]:.0%} | {mark} |")
    out.append(
        f"| false positives per clean diff | {len(c['false_positives'])}/{c['cases']} | {c['fp_per_diff']:.2f} | | |"
    )
    if result["timing"]:
        t = result["timing"]
        out.append(f"| time per risky diff (security + code_review) | | {t['ms_per_diff_batched']:.1f} ms | | |")
        out.append(f"| time per failure explanation | | {t['ms_per_failure']:.2f} ms | | |")
    out.append("")
    out.append(f"Written after the classifier (held out; 13/14 on their first run): {f['heldout']} now.")
    out.append("Failing tests by category: " + ", ".join(f"{k} {v}" for k, v in f["by_category"].items()))
    for title, items in (
        ("Missed failing tests", f["misses"]),
        ("Missed risky diffs", r["misses"]),
        ("False positives on clean diffs", c["false_positives"]),
        ("Notices", sorted(set(r["notices"]) | set(c["notices"]))),
    ):
        if items:
            out.append("")
            out.append(f"{title}:")
            out += [f"- {item}" for item in items]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip the timing repeats")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(args.quick)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(markdown(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
