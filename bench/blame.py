"""Does `pytest --assist` find a planted bug? One-line bugs in real PyPI projects, scored automatically.

`python -m bench.blame [--quick] [--json] [--check] [--fake]`, or through `python -m bench --only blame`.

The corpus is bench/corpus/mutations.json: projects (name, version, test paths, import path) fetched as
sdists from PyPI (`pip download --no-deps --no-binary :all:`, cached under bench/.work/sdists) and
mutations as (project, file, line, old, new) data. For each mutation the pristine tree is copied, the
line is changed, and the project's own tests run under `pytest --assist --assist-report` with no key
(offline: local answers), twice: in a git repository whose HEAD is the pristine tree (the mutation shows
in `git diff HEAD`) and in a plain directory (no git: the traceback and the dataflow walk only).
Scored from the report and the printed section:

- file+function: an explanation names the mutated file and the function around the mutated line;
- line ±3: the explanation's line or the printed suspect lines are within 3 of the mutated line;
- test advice: a fix tells the user to change the test (the corpus's bugs are all in the code);
- longest printed line of the run; groups vs failures.

`--fake` also runs each git-mode mutation with a key against the fake OpenAI server (tests/fakeserver.py)
and checks that the request carries the mutated line, and counts the request's tokens.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/blame.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from .common import BENCH_KEY, BIN, HERE, WORK, Row, fake_server, isolated_env

CORPUS = HERE / "corpus" / "mutations.json"
QUICK = 2  # mutations per project in --quick (the CI gate): the first two of each project
TARGETS = {"func": 0.8, "line": 0.5, "advice": 0, "longest": 300}
# advice to change the test instead of the code
TEST_ADVICE = re.compile(
    r"update the expected|fix the test|change the test|test's expectation|fix whichever|"
    r"assert it with `pytest\.raises|expect the error with `pytest\.raises|fix the test's data",
    re.IGNORECASE,
)


def corpus() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CORPUS.read_text(encoding="utf-8"))
    return data


def pristine(name: str, version: str) -> Path:
    """The extracted sdist of name==version under bench/.work/blame (downloaded once)."""
    target = WORK / "blame" / f"{name}-{version}"
    if (target / ".complete").exists():
        return target
    cache = WORK / "sdists"
    cache.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "[-_]")
    found = [p for p in cache.iterdir() if re.fullmatch(rf"{stem}-{re.escape(version)}\.(tar\.gz|tgz)", p.name)]
    if not found:
        proc = subprocess.run(
            [str(BIN / "python"), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", "-d", str(cache), f"{name}=={version}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        found = [p for p in cache.iterdir() if re.fullmatch(rf"{stem}-{re.escape(version)}\.(tar\.gz|tgz)", p.name)]
        if proc.returncode != 0 or not found:
            raise RuntimeError(f"pip download {name}=={version} failed: {proc.stderr.strip()[-300:]}")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(found[0]) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not (member.isfile() or member.isdir()) or ".." in parts[1].split("/"):
                continue
            member.name = parts[1]
            tar.extract(member, target, filter="data")
    (target / ".complete").write_text("", encoding="utf-8")
    return target


def enclosing_function(source: str, line: int) -> str:
    """The innermost function whose body holds `line` (its bare name), or ""."""
    best, span = "", 10**9
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and end - node.lineno < span:
                best, span = node.name, end - node.lineno
    return best


def _git(repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=120)


def run_one(
    project: dict[str, Any], mutation: dict[str, Any], base: Path, *, git: bool, fake: Any = None
) -> dict[str, Any]:
    """Plant `mutation` in a copy of the project, run its tests under --assist, score the result."""
    tree = base / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(pristine(project["name"], project["version"]), tree, ignore=shutil.ignore_patterns(".complete"))
    extra = {"SYMPHONY_ASSIST_CACHE_DIR": str(base / "cache"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
             "PYTHONPATH": str(tree / project.get("import_path", "."))}  # fmt: skip
    if fake is not None:
        extra.update(OPENAI_API_KEY=BENCH_KEY, OPENAI_BASE_URL=fake.url)
    env = isolated_env(base / "home", **extra)
    if git:
        _git(tree, env, "init", "-q")
        _git(tree, env, "add", "-A")
        _git(tree, env, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "base")
    path = tree / mutation["file"]
    lines = path.read_text(encoding="utf-8").split("\n")
    index = int(mutation["line"]) - 1
    if mutation["old"] not in lines[index]:
        raise RuntimeError(f"{mutation['file']}:{mutation['line']} does not contain {mutation['old']!r}")
    func = enclosing_function("\n".join(lines), index + 1)
    lines[index] = lines[index].replace(mutation["old"], mutation["new"], 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    report = base / "report.json"
    report.unlink(missing_ok=True)
    before = len(fake.chat_requests) if fake is not None else 0
    started = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "symphony_assist_hooks.pytest_plugin", "--rootdir", str(tree), "-o", "addopts=",
         "--assist", "--assist-report", str(report), *project["tests"]],
        cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    out = proc.stdout
    section = out.split("symphony-assist ===", 1)[1] if "symphony-assist ===" in out else ""
    doc = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    explanations = doc.get("explanations") or doc.get("findings") or []
    groups = doc.get("groups") or []
    texts = [f"{e.get('explanation', '')} {e.get('fix', '')}" for e in explanations]
    rel = mutation["file"].removeprefix(project.get("import_path", ".") + "/").removeprefix("./")
    # `func`, or qualified: `Signer.sign`, `chunked.<locals>.ret`
    said = re.compile(rf"`(?:[\w.<>]+\.)?{re.escape(func)}`")
    named = any(rel in t and said.search(t) for t in texts) if func else False
    lines_named: set[int] = {int(e.get("line") or 0) for e in explanations}
    for g in groups:
        if g.get("suspects"):
            lines_named.update(int(n) for n in g["suspects"][0].get("lines") or ())
    near = any(abs(n - int(mutation["line"])) <= 3 for n in lines_named)
    advice = any(TEST_ADVICE.search(str(e.get("fix", ""))) for e in explanations)
    failures = sum(int(g.get("size") or 1) for g in groups) + len(doc.get("not_explained") or [])
    result: dict[str, Any] = {
        "id": f"{project['name']}:{mutation['file']}:{mutation['line']}",
        "func": func,
        "exit": proc.returncode,
        "failures": failures,
        "groups": len(groups) + (1 if doc.get("not_explained") else 0) * 0,
        "group_sizes": [g.get("size") for g in groups],
        "named": named,
        "near": near,
        "advice": advice,
        "longest": max((len(ln) for ln in out.splitlines()), default=0),
        "section_lines": len(section.splitlines()),
        "seconds": round(seconds, 1),
    }
    if fake is not None:
        from .cost import count_tokens

        bodies = [json.dumps(r.body) for r in fake.chat_requests[before:]]
        sent = "\n".join(str(m.get("content", "")) for r in fake.chat_requests[before:] for m in r.body["messages"])
        result["requests"] = len(bodies)
        result["carries_line"] = mutation["new"] in sent  # the decoded messages, not the JSON escaping
        counts, _ = count_tokens(bodies) if bodies else ([], "")
        result["prompt_tokens"] = sum(counts)
    return result


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Shares over the bugs the project's own tests catch (a bug no test fails on cannot be explained)."""
    caught = [r for r in results if r["failures"]]
    n = len(caught) or 1
    return {
        "bugs": len(results),
        "caught": len(caught),
        "func": sum(r["named"] for r in caught) / n,
        "line": sum(r["near"] for r in caught) / n,
        "advice": sum(r["advice"] for r in caught),
        "longest": max((r["longest"] for r in results), default=0),
        "no_failure": len(results) - len(caught),
        "max_failures_in_one_group": max((max(r["group_sizes"] or [0]) for r in caught), default=0),
    }


def evaluate(
    quick: bool, *, fake: bool = False, modes: tuple[str, ...] = ("git", "plain"), only: str = ""
) -> dict[str, Any]:
    data = corpus()
    projects = {p["name"]: p for p in data["projects"]}
    mutations = [m for m in data["mutations"] if not only or m["project"] in only.split(",")]
    if quick:
        taken: dict[str, int] = {}
        chosen = []
        for m in mutations:
            taken[m["project"]] = taken.get(m["project"], 0) + 1
            if taken[m["project"]] <= QUICK:
                chosen.append(m)
        mutations = chosen
    out: dict[str, Any] = {"modes": {}}
    with tempfile.TemporaryDirectory(prefix="sa-bench-blame-") as tmp:
        for mode in modes:
            results = []
            for i, m in enumerate(mutations):
                print(
                    f"blame [{mode}] {i + 1}/{len(mutations)} {m['project']} {m['file']}:{m['line']}", file=sys.stderr
                )
                results.append(run_one(projects[m["project"]], m, Path(tmp) / f"{mode}{i}", git=mode == "git"))
                print("  " + json.dumps(results[-1]), file=sys.stderr)
            out["modes"][mode] = {"summary": _summary(results), "results": results}
        if fake:
            results = []
            with fake_server() as server:
                for i, m in enumerate(mutations):
                    print(f"blame [fake] {i + 1}/{len(mutations)}", file=sys.stderr)
                    results.append(run_one(projects[m["project"]], m, Path(tmp) / f"fake{i}", git=True, fake=server))
                    print("  " + json.dumps(results[-1]), file=sys.stderr)
            with_failures = [r for r in results if r["failures"]]
            out["fake"] = {
                "carries_line": sum(r.get("carries_line", False) for r in with_failures) / (len(with_failures) or 1),
                "prompt_tokens_median": sorted(r.get("prompt_tokens", 0) for r in with_failures)[
                    len(with_failures) // 2
                ]
                if with_failures
                else 0,
                "results": results,
            }
    return out


def met(summary: dict[str, Any]) -> bool:
    return (
        summary["func"] >= TARGETS["func"]
        and summary["line"] >= TARGETS["line"]
        and summary["advice"] <= TARGETS["advice"]
        and summary["longest"] <= TARGETS["longest"]
    )


def rows(quick: bool) -> list[Row]:
    """For bench/run.py: one row per mode (the plain mode is the gate: no help from git)."""
    data = evaluate(quick, modes=("plain",) if quick else ("git", "plain"))
    out = []
    for mode, block in data["modes"].items():
        s = block["summary"]
        out.append(
            Row(
                f"`pytest --assist` blames planted bugs ({mode})",
                f"file+func {s['func']:.0%} · line±3 {s['line']:.0%} · test advice {s['advice']} · "
                f"longest line {s['longest']}",
                target="≥ 80 % · ≥ 50 % · 0 · ≤ 300",
                met=met(s),
                details={"bugs": s["bugs"], "results": block["results"]},
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blame", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK} mutations of each project")
    parser.add_argument("--json", action="store_true", help="print every result as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when the plain mode misses a target")
    parser.add_argument("--fake", action="store_true", help="also run with a key against the fake server")
    parser.add_argument("--only", default="", help="these projects (comma-separated names) only")
    parser.add_argument("--modes", default="git,plain", help="git, plain or both (default); empty: none")
    args = parser.parse_args(argv)
    data = evaluate(args.quick, fake=args.fake, modes=tuple(m for m in args.modes.split(",") if m), only=args.only)
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        for mode, block in data["modes"].items():
            s = block["summary"]
            print(f"{mode}: {s['bugs']} bugs · file+function {s['func']:.0%} · line ±3 {s['line']:.0%} · "
                  f"test advice {s['advice']} · longest {s['longest']} · no failure {s['no_failure']}")  # fmt: skip
            for r in block["results"]:
                print(f"  {r['id']:<55} {r['func']:<18} failures {r['failures']:>4} groups {r['groups']:>2} "
                      f"func {'y' if r['named'] else '-'} line {'y' if r['near'] else '-'} "
                      f"advice {'!' if r['advice'] else '-'} longest {r['longest']}")  # fmt: skip
        if "fake" in data:
            f = data["fake"]
            print(f"fake server: request carries the mutated line {f['carries_line']:.0%} · "
                  f"median prompt tokens {f['prompt_tokens_median']}")  # fmt: skip
    gate = data["modes"].get("plain") or next(iter(data["modes"].values()), None)
    return 1 if args.check and (gate is None or not met(gate["summary"])) else 0


if __name__ == "__main__":
    raise SystemExit(main())
