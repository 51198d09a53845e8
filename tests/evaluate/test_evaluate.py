"""`symphony-assist eval` (#12): the case format, matching, figures, comparison, the gate, the built-in
suite offline (twice, same JSON) and the whole path against the fake server."""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from responders import finding, frame_of, items_of, numbered_lines

from symphony_assist_hooks.analyzers.checks import __doc__ as checks_doc
from symphony_assist_hooks.analyzers.security import _BANDIT
from symphony_assist_hooks.cli import _cli_settings, build_parser, main
from symphony_assist_hooks.cli.commands import evaluate as command
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.errors import UsageError
from symphony_assist_hooks.evaluate.cases import FAKE_SECRETS, TOLERANCE, Case, Span, load_cases, load_thresholds
from symphony_assist_hooks.evaluate.gate import check, compare, regressions, thresholds_from
from symphony_assist_hooks.evaluate.scoring import score_diff
from symphony_assist_hooks.families import CATEGORIES, FAMILIES, category_of, family_of
from symphony_assist_hooks.findings import Finding, Severity
from symphony_assist_hooks.git import changes as git
from symphony_assist_hooks.terminal.console import Console

# Built by concatenation: this file must not match the repository's own secret scan.
AWS_KEY = re.compile("AK" + "IA" + r"[0-9A-Z]{16}")
OPENAI_KEY = re.compile("sk-" + r"[A-Za-z0-9]{20}" + "T3Blbk" + "FJ" + r"[A-Za-z0-9]{20}")
SCANNED = (
    AWS_KEY,
    OPENAI_KEY,
    re.compile("gh" + "p_" + r"[A-Za-z0-9]{36}"),
    re.compile("xo" + "x[bp]-"),
    re.compile("BEGIN [A-Z ]*" + "PRIVATE KEY"),
)
SUITE = Path(__file__).resolve().parents[2] / "symphony_assist_hooks" / "evalcases"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))


def _finding(path: str, line: int, rule: str, end: int | None = None, template: str = "security") -> Finding:
    return Finding(path, line, end or line, Severity.HIGH, rule, rule, source="api", template=template)


def _new_file(path: str, text: str) -> str:
    lines = text.strip("\n").split("\n")
    body = "\n".join("+" + ln for ln in lines)
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n{body}\n"


def _write_case(folder: Path, name: str, header: str, section: str, body: str) -> Path:
    path = folder / f"{name}.case"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{header.strip()}\n%% {section}\n{body}", encoding="utf-8")
    return path


def _run(argv: list[str], *, check: bool = False) -> tuple[int, str, str]:
    """`symphony-assist <argv>` as cli.main runs it, with --check set even before cli.py knows the flag."""
    args = build_parser().parse_args(argv)
    args.check = check
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args, load_settings(_cli_settings(args)), Console(out=out, err=err, color="never"))
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------------- families
@pytest.mark.parametrize(
    ("rule", "family"),
    [
        ("bandit/B608", "injection"),
        ("bandit/B602", "injection"),
        ("BANDIT/b307", "injection"),
        ("js/sql-injection", "injection"),
        ("shell/eval", "injection"),
        ("sql-injection", "injection"),
        ("shell-injection", "injection"),
        ("os-command-injection", "injection"),
        ("prompt-injection", "other"),
        ("bandit/B301", "deserialization"),
        ("bandit/B506", "deserialization"),
        ("unsafe-deserialization", "deserialization"),
        ("insecure-deserialisation", "deserialization"),
        ("secret", "secrets"),
        ("bandit/B105", "secrets"),
        ("hardcoded-credential", "secrets"),
        ("hardcoded-api-token", "secrets"),
        ("bandit/B324", "crypto"),
        ("weak-hash", "crypto"),
        ("insecure-random", "crypto"),
        ("bandit/B501", "tls"),
        ("js/tls-verify-disabled", "tls"),
        ("swallowed-exception", "error-handling"),
        ("ruff/E722", "error-handling"),
        ("bare-except", "error-handling"),
        ("resource-leak", "resource-leak"),
        ("unclosed-file", "resource-leak"),
        ("race-condition", "concurrency"),
        ("ruff/RUF006", "concurrency"),
        ("off-by-one", "logic"),
        ("logic-error", "logic"),
        ("ruff/B006", "logic"),
        ("mutable-default", "logic"),
        ("ruff/F821", "logic"),
        ("ruff/F401", "maintainability"),
        ("ruff/PLE0101", "logic"),
        ("ruff/PLW0120", "logic"),
        ("ruff/RUF012", "logic"),
        ("ruff/PIE794", "logic"),
        ("ruff/ASYNC100", "concurrency"),
        ("todo-no-owner", "maintainability"),
        ("debug-leftover", "debug-leftover"),
        ("conflict-marker", "merge-conflict"),
        ("shell/pipe-to-shell", "supply-chain"),
        ("bandit/B104", "insecure-default"),
        ("bandit/B113", "insecure-default"),
        ("path-traversal", "filesystem"),
        ("shell/world-writable", "filesystem"),
        ("something-new", "other"),
        ("", "other"),
    ],
)
def test_rule_families(rule: str, family: str) -> None:
    assert family_of(rule) == family


def test_every_rule_our_analyzers_emit_has_a_family() -> None:
    ids = [f"bandit/{b}" for b in _BANDIT] + ["secret", "js/eval", "js/xss", "shell/world-writable"]
    own = re.search(r"Rule ids are stable[^:]*: ([^.]+)\.", checks_doc or "")
    assert own is not None
    ids += [r.strip() for r in own.group(1).split(",")]
    assert [r for r in ids if family_of(r) == "other"] == []
    assert set(FAMILIES) >= {family_of(r) for r in ids}


def test_the_documented_names_are_the_tables() -> None:
    import symphony_assist_hooks.evaluate as package

    doc = re.sub(r"\s+", " ", package.__doc__ or "")
    families = re.search(r"Families: ([^.]+)\.", doc)
    categories = re.search(r"finer names\): ([^.]+)\.", doc)
    assert families and [f.strip() for f in families.group(1).split(",")] == sorted(FAMILIES)
    assert categories and [c.strip() for c in categories.group(1).split(",")] == sorted(CATEGORIES)
    assert sorted(re.findall(r"\{\{(FAKE_\w+)\}\}", doc)) == sorted(FAKE_SECRETS)


@pytest.mark.parametrize(
    ("answer", "category"),
    [
        ("attribute-error-on-none", "none-attribute"),
        ("none-attribute", "none-attribute"),
        ("mock-call-mismatch", "assertion-mismatch"),
        ("did-not-raise", "assertion-mismatch"),
        ("fixture-not-found", "fixture-error"),
        ("teardown-error", "fixture-error"),
        ("file-not-found", "io-error"),
        ("zero-division", "other"),
        ("Key-Error", "key-error"),
        ("made-up", "other"),
    ],
)
def test_failure_categories_fold_both_vocabularies(answer: str, category: str) -> None:
    assert category_of(answer) == category


# ---------------------------------------------------------------------------------------------- matching
@pytest.mark.parametrize(
    ("line", "end", "matches"),
    [(10, 10, True), (12, 12, True), (9, 9, True), (13, 13, True), (8, 8, False), (14, 14, False), (5, 9, True),
     (5, 8, False), (11, 30, True)],
)  # fmt: skip
def test_lines_overlap_with_one_line_of_tolerance(line: int, end: int, matches: bool) -> None:
    assert TOLERANCE == 1
    span = Span("app/x.py", 10, 12, "injection")
    assert span.matches(_finding("app/x.py", line, "sql-injection", end), "injection") is matches


def test_path_and_family_must_match_too() -> None:
    span = Span("app/x.py", 10, 10, "injection")
    assert not span.matches(_finding("app/y.py", 10, "sql-injection"), "injection")
    assert not span.matches(_finding("app/x.py", 10, "weak-hash"), "crypto")
    assert Span("app/x.py", 10, 10, "*").matches(_finding("app/x.py", 10, "weak-hash"), "crypto")


def test_score_counts_true_false_allowed_and_missed() -> None:
    case = Case(
        "c",
        diff="x",
        expect=(Span("a.py", 5, 5, "injection"), Span("a.py", 20, 22, "resource-leak")),
        allow=(Span("a.py", 1, 1, "maintainability"),),
    )
    found = [
        _finding("a.py", 5, "bandit/B602"),
        _finding("a.py", 6, "shell-injection", template="code_review"),  # the same problem, a line below
        _finding("a.py", 1, "ruff/F401"),  # allowed
        _finding("a.py", 9, "ruff/F841"),  # nobody asked for it
    ]
    doc = score_diff(case, found)
    assert [r["verdict"] for r in doc["findings"]] == ["tp", "tp", "allowed", "fp"]
    assert [e["found"] for e in doc["expected"]] == [True, False]
    assert doc["expected"][0]["found_by"] == ["code_review", "security"]
    assert (doc["missed"], doc["false_positives"], doc["errors"], doc["passed"]) == (1, 1, 2, False)


# ---------------------------------------------------------------------------------------------- the format
RISKY = """
about: a command built from input
expect: app/run.py:5 injection
allow: app/run.py:1 *
"""


def test_case_file_is_parsed_and_hunks_recounted(tmp_path: Path) -> None:
    # wrong hunk counts, a blank context line without its space: the loader fixes both
    diff = (
        "diff --git a/app/run.py b/app/run.py\n--- a/app/run.py\n+++ b/app/run.py\n@@ -1,99 +1,1 @@\n"
        " import subprocess\n\n\n def run(arg):\n-    return subprocess.call(['ls', arg])\n"
        "+    return subprocess.call('ls ' + arg, shell=True)\n"
    )
    _write_case(tmp_path, "risky/shell", RISKY, "diff", diff)
    (case,) = load_cases(tmp_path)
    assert case.id == "risky/shell" and case.kind == "diff" and case.about == "a command built from input"
    assert case.expect == (Span("app/run.py", 5, 5, "injection"),)
    assert case.allow == (Span("app/run.py", 1, 1, "*"),)
    (fd,) = git.parse_patch(case.diff)
    assert fd.hunks[0].header.startswith("@@ -1,5 +1,5 @@")
    assert fd.hunks[0].added_lines == (5,)


def test_fake_secrets_are_generated_at_load_time_and_stable(tmp_path: Path) -> None:
    body = _new_file(
        "deploy/keys.py",
        'AWS = "{{FAKE_AWS_KEY}}"\nOPENAI = "{{FAKE_OPENAI_KEY}}"\nPEM = """{{FAKE_PRIVATE_KEY}}\n"""\nDONE = 1',
    )
    _write_case(tmp_path, "keys", "expect: deploy/keys.py:1 secrets", "diff", body)
    first, again = load_cases(tmp_path), load_cases(tmp_path)
    assert first == again  # seeded by case id and position: same text, same cache keys, same figures
    text = first[0].diff
    assert "{{" not in text and AWS_KEY.search(text) and OPENAI_KEY.search(text)
    (fd,) = git.parse_patch(text)
    added = [ln.text for ln in fd.hunks[0].lines if ln.kind == "+"]
    assert len(added) == 14 and added[-1] == "DONE = 1"  # the PEM's 10 lines stay added lines
    assert "{{FAKE_AWS_KEY}}" in (tmp_path / "keys.case").read_text()  # nothing real-looking on disk


def test_failing_test_case_and_jsonl(tmp_path: Path) -> None:
    header = "test: tests/test_x.py::test_a\nwhen: setup\nexception: KeyError\ncategory: key-error | fixture-error\n"
    _write_case(tmp_path, "f", header, "longrepr", "E   KeyError: 'CH'\n%% test_source\ndef test_a(): ...\n")
    rows = [
        {"id": "j1", "diff": _new_file("a.py", "x = 1"), "expect": ["none"]},
        {"id": "j2", "longrepr": "E   ValueError: bad", "test": "t.py::test_v", "category": ["value-error"]},
    ]
    rows.append({"id": "j3", "diff": _new_file("b.py", "y = 2"), "expect": "b.py:1 logic"})  # one string, no list
    (tmp_path / "more.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    cases = {c.id: c for c in load_cases(tmp_path)}
    assert list(cases) == ["f", "j1", "j2", "j3"]
    assert cases["j3"].expect == (Span("b.py", 1, 1, "logic"),)
    f = cases["f"].failure
    assert f is not None and f.when == "setup" and f.exc_type == "KeyError" and f.path == "tests/test_x.py"
    assert f.test_source == "def test_a(): ..."
    assert cases["f"].categories == ("key-error", "fixture-error")
    assert cases["j1"].kind == "diff" and cases["j1"].expect == ()
    assert cases["j2"].categories == ("value-error",)


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ("expect: a.py:1 sorcery", _new_file("a.py", "x = 1"), "FAMILY among"),
        ("expect: a.py:9 logic", _new_file("a.py", "x = 1"), "names no added line"),
        ("expect: b.py:1 logic", _new_file("a.py", "x = 1"), "names no added line"),
        ("about: no expectations", _new_file("a.py", "x = 1"), "'expect: none' when clean"),
        ("colour: blue\nexpect: none", _new_file("a.py", "x = 1"), "key among"),
        ("expect: none", _new_file("a.py", 'K = "{{FAKE_NOPE}}"'), "unknown placeholder"),
        ("test: t.py::t\ncategory: spooky", "E boom", "category"),
        ("test: t.py::t\nwhen: later\ncategory: other", "E boom", "'when: later' is not one of"),
        ("expect: none", _new_file("../outside.py", "x = 1"), "not a relative path inside a repository"),
        ("expect: none", _new_file("/etc/x.py", "x = 1"), "not a relative path inside a repository"),
        ("expect: none", _new_file(".git/config", "[core]"), "not a relative path inside a repository"),
    ],
)
def test_malformed_cases_say_where_and_what(tmp_path: Path, header: str, body: str, message: str) -> None:
    section = "longrepr" if header.startswith("test:") else "diff"
    _write_case(tmp_path, "bad", header, section, body)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        load_cases(tmp_path)
    assert "bad.case" in str(info.value)


def test_duplicate_ids_and_empty_sets_are_refused(tmp_path: Path) -> None:
    _write_case(tmp_path, "a", "id: same\nexpect: none", "diff", _new_file("a.py", "x = 1"))
    _write_case(tmp_path, "b", "id: same\nexpect: none", "diff", _new_file("a.py", "x = 1"))
    with pytest.raises(UsageError, match="used twice"):
        load_cases(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no \*\.case"):
        load_cases(tmp_path / "empty")
    with pytest.raises(UsageError, match="no such file"):
        load_cases(tmp_path / "missing")
    (tmp_path / "empty" / "odd.jsonl").write_text('{"id": "x", "colour": "blue"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"odd\.jsonl:1: unknown keys colour"):
        load_cases(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------- the suite
def test_builtin_suite_is_big_varied_and_has_no_literal_secrets() -> None:
    cases = load_cases()
    diffs = [c for c in cases if c.kind == "diff"]
    risky = [c for c in diffs if c.expect]
    clean = [c for c in diffs if not c.expect]
    failing = [c for c in cases if c.kind == "failure"]
    assert len(cases) >= 60 and len(risky) >= 30 and len(clean) >= 12 and len(failing) >= 20
    families = {s.family for c in risky for s in c.expect}
    assert families >= {"injection", "deserialization", "secrets", "error-handling", "resource-leak", "logic",
                        "crypto", "debug-leftover"}  # fmt: skip
    languages = {fd.language for c in diffs for fd in git.parse_patch(c.diff)}
    assert {"python", "javascript", "shell", "yaml"} <= languages
    assert len({c for f in failing for c in f.categories}) >= 12
    for path in SUITE.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not [p.pattern for p in SCANNED if p.search(text)], path


def test_builtin_python_cases_are_complete_files() -> None:
    """The local analyzers see the new file rebuilt from the diff: it must parse, or bandit skips it."""
    for case in load_cases():
        for fd in git.parse_patch(case.diff) if case.kind == "diff" else ():
            if fd.language != "python" or any(s.family == "merge-conflict" for s in case.expect):
                continue
            lines = {ln.new_no: ln.text for h in fd.hunks for ln in h.lines if ln.new_no}
            text = "\n".join(lines.get(n, "") for n in range(1, max(lines) + 1))
            ast.parse(text, filename=f"{case.id}:{fd.path}")


def test_offline_suite_is_stable_and_meets_its_floors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--offline", "eval", "--json"]) == 0
    first = capsys.readouterr().out
    doc = json.loads(first)
    assert doc["engine"] == "local" and doc["suite"] == "built-in" and doc["usage"]["cost_usd"] == 0
    assert doc["usage"]["local_answers"] == doc["usage"]["answers"] and doc["usage"]["api_requests"] == 0
    thresholds = load_thresholds()
    assert thresholds is not None
    assert check(doc, thresholds) == []
    # the second run (what CI runs: --check, here with the first run as --baseline too) gives the same JSON
    (tmp_path / "run.json").write_text(first, encoding="utf-8")
    code, out, err = _run(["--offline", "eval", "--json", "--baseline", str(tmp_path / "run.json")], check=True)
    assert code == 0, err
    again = json.loads(out)
    comparison, gate = again.pop("comparison"), again.pop("check")
    assert json.dumps(again, indent=2, ensure_ascii=False) + "\n" == first
    assert (comparison["better"], comparison["worse"], gate) == (False, False, {"passed": True, "problems": []})


# ---------------------------------------------------------------------------------------------- compare, gate
def _doc(precision: float | None, recall: float, errors: dict[str, int], **families: float) -> dict[str, Any]:
    return {
        "suite": "s",
        "engine": "local",
        "figures": {"precision": precision, "recall": recall, "f1": None, "fp_per_clean": 0.5,
                    "failure_accuracy": 1.0},
        "usage": {"cost_usd": 0.01, "tokens": 100, "api_requests": 2, "local_answers": 0},
        "families": {name: {"recall": value, "precision": 1.0} for name, value in families.items()},
        "categories": {},
        "cases": [{"id": cid, "kind": "diff", "errors": n, "expected": [], "findings": []} for cid, n in errors.items()],
    }  # fmt: skip


def test_compare_says_what_got_better_and_worse() -> None:
    before = _doc(0.8, 0.6, {"a": 1, "b": 0, "gone": 0}, injection=0.5, logic=1.0)
    after = _doc(0.9, 0.5, {"a": 0, "b": 2, "new": 0}, injection=0.75, logic=1.0, crypto=1.0)
    cmp = compare(before, after)
    changes = {r["name"]: r["change"] for r in cmp["figures"]}
    assert changes == {"precision": "better", "recall": "worse", "f1": "same", "fp_per_clean": "same",
                       "failure_accuracy": "same"}  # fmt: skip
    assert [(r["family"], r["name"], r["change"]) for r in cmp["families"]] == [
        ("crypto", "recall", "n/a"),
        ("crypto", "precision", "n/a"),
        ("injection", "recall", "better"),
    ]
    assert [c["id"] for c in cmp["cases"]["better"]] == ["a"]
    assert [c["id"] for c in cmp["cases"]["worse"]] == ["b"]
    assert (cmp["cases"]["added"], cmp["cases"]["removed"]) == (["new"], ["gone"])
    assert cmp["better"] and cmp["worse"]
    assert regressions(cmp) == ["recall 0.600 → 0.500"]
    assert compare(after, after)["worse"] is False
    lower_cost = compare(before, {**after, "usage": {**after["usage"], "cost_usd": 0.005}})
    assert {r["name"]: r["change"] for r in lower_cost["usage"]}["cost_usd"] == "better"


def test_check_against_floors_and_ceilings() -> None:
    doc = _doc(0.9, 0.5, {}, injection=0.75)
    floors = {"local": thresholds_from(doc)}
    assert check(doc, floors) == []
    worse = _doc(0.85, 0.5, {}, injection=0.5)
    worse["figures"]["fp_per_clean"] = 0.75
    assert check(worse, floors) == [
        "precision 0.850 is below its floor 0.900",
        "fp_per_clean 0.750 is above its ceiling 0.500",
        "injection recall 0.500 is below its floor 0.750",
    ]
    assert check(_doc(None, 0.5, {}), {"local": {"precision": 0.1}}) == ["precision n/a is below its floor 0.100"]
    with pytest.raises(UsageError, match="no thresholds for engine 'gpt-4o-mini'"):
        check({**doc, "engine": "gpt-4o-mini"}, floors)


# ---------------------------------------------------------------------------------------------- the command
def _small_suite(folder: Path) -> Path:
    _write_case(folder, "risky/shell", "expect: app/run.py:5 injection", "diff", _new_file("app/run.py", """
import subprocess


def run(user_input):
    return subprocess.call("ls " + user_input, shell=True)
"""))  # fmt: skip
    _write_case(folder, "risky/pickle", "expect: app/load.py:5 deserialization", "diff", _new_file("app/load.py", """
import pickle


def load(blob):
    return pickle.loads(blob)
"""))  # fmt: skip
    _write_case(folder, "risky/leak", "expect: app/read.py:2 resource-leak", "diff", _new_file("app/read.py", """
def read(path):
    fh = open(path)
    return fh.read()
"""))  # fmt: skip
    _write_case(folder, "clean/total", "expect: none", "diff", _new_file("app/total.py", """
def total(values):
    return sum(values)
"""))  # fmt: skip
    longrepr = "    def test_rate():\n>       assert rates['CH']\nE       KeyError: 'CH'\n\ntest_rates.py:4: KeyError"
    _write_case(folder, "failing/key", "test: test_rates.py::test_rate\ncategory: key-error", "longrepr", longrepr)
    slow = "E       Failed: Timeout (>1.0s) from pytest-timeout.\n\n/usr/lib/python3.11/threading.py:320: Failed"
    _write_case(folder, "failing/slow", "test: test_q.py::test_wait\ncategory: timeout", "longrepr", slow)
    return folder


def _scripted(body: dict[str, Any]) -> str:
    """The fake model: flags shell=True and open() (right), sum() (wrong), misses pickle; calls every
    failure a key-error."""
    results: list[dict[str, Any]] = []
    for item_id, _label, content in items_of(body):
        if frame_of(body) != "findings":
            results.append({"id": item_id, "category": "key-error", "explanation": "e", "fix": "f"})
            continue
        found = []
        for local, added, text in numbered_lines(content):
            if added and "shell=True" in text:
                found.append(finding(local, rule="shell-injection", checklist="security"))
            elif added and "open(" in text:
                found.append(finding(local, rule="resource-leak"))
            elif added and "sum(" in text:
                found.append(finding(local, rule="logic-error"))
        results.append({"id": item_id, "findings": found})
    return json.dumps({"results": results})


@pytest.fixture
def keyed(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(16))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "5")
    fake_openai.responder = _scripted
    return fake_openai


def test_whole_path_against_the_fake_server(
    keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _small_suite(tmp_path / "cases")
    assert main(["eval", "--cases", str(cases), "--json", "--findings", "model"]) == 0  # the model's own figures
    doc = json.loads(capsys.readouterr().out)
    fig, usage = doc["figures"], doc["usage"]
    assert doc["engine"] == "gpt-4o-mini" and doc["findings"] == "model"
    assert (fig["true_positives"], fig["false_positives"], fig["found"], fig["expected"]) == (2, 1, 2, 3)
    assert (fig["precision"], fig["recall"], fig["fp_per_clean"]) == (0.6667, 0.6667, 1.0)
    assert (fig["failures_correct"], fig["failure_accuracy"]) == (1, 0.5)
    assert doc["families"]["deserialization"] == {"expected": 1, "found": 0, "recall": 0.0, "findings": 0,
                                                  "true_positives": 0, "false_positives": 0, "precision": None}  # fmt: skip
    assert doc["templates"]["security"]["true_positives"] == 1
    assert doc["templates"]["code_review"]["false_positives"] == 1
    assert doc["templates"]["testing"] == {"cases": 2, "correct": 1, "accuracy": 0.5}
    assert usage["api_requests"] == len(keyed.chat_requests) == 5  # one per diff case, one for the failures
    assert usage["tokens"] > 0 and usage["cost_usd"] > 0 and usage["local_answers"] == 0
    assert [w["id"] for w in doc["worst"]] == ["clean/total", "failing/slow", "risky/pickle"]
    # the same run again: answered from the cache, same figures, nothing paid
    assert main(["eval", "--cases", str(cases), "--json", "--findings", "model"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["figures"] == fig
    assert again["usage"]["api_requests"] == 0
    assert again["usage"]["cache_hits"] == 10  # one per (hunk, template) and per failure
    assert len(keyed.chat_requests) == 5
    # what users get (the default): the pickle the model missed is bandit's, the shell command is one finding
    assert main(["eval", "--cases", str(cases), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["findings"] == "merged" and len(keyed.chat_requests) == 5
    assert (merged["figures"]["found"], merged["figures"]["expected"]) == (3, 3)
    assert merged["families"]["deserialization"]["found"] == 1
    assert merged["figures"]["true_positives"] >= fig["true_positives"] + 1
    assert main(["eval", "--cases", str(cases), "--json", "--findings", "analyzers"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert local["families"]["deserialization"]["found"] == 1 and local["findings"] == "analyzers"


def test_max_cost_stops_paid_calls_and_the_run_still_completes(
    keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _small_suite(tmp_path / "cases")
    assert main(["eval", "--cases", str(cases), "--max-cost", "0.000001", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert keyed.chat_requests == []
    assert doc["usage"]["cost_usd"] == 0 and doc["usage"]["local_answers"] == doc["usage"]["answers"] == 6
    assert any("budget" in r for r in doc["usage"]["fallback_reasons"])
    assert "6 of 6 answers came from the local analyzers" in captured.err
    assert doc["figures"]["failures_correct"] == 2  # the local classifier answered
    assert doc["figures"]["found"] >= 2  # bandit still finds the shell command and the pickle


def test_text_report_comparison_and_baseline_gate(
    keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _small_suite(tmp_path / "cases")
    assert main(["eval", "--cases", str(cases), "--json", "--findings", "model"]) == 0
    baseline = json.loads(capsys.readouterr().out)
    baseline["figures"]["precision"] = 0.9  # pretend an earlier run did better
    for case in baseline["cases"]:
        if case["id"] == "risky/pickle":
            case["errors"] = 3  # ... and worse on this case
    path = tmp_path / "before.json"
    path.write_text(json.dumps(baseline), encoding="utf-8")
    code, out, err = _run(["eval", "--cases", str(cases), "--baseline", str(path), "--findings", "model"], check=True)
    assert code == 1
    assert "precision 0.667 recall 0.667" in re.sub(r"\s+", " ", out)
    assert "compared with the baseline" in out
    assert re.search(r"precision\s+0\.900 →\s+0\.667\s+worse", out)
    assert "better: risky/pickle (3 → 1 errors)" in out
    assert "worst cases" in out and "missed deserialization at app/load.py:5" in out
    assert "check: FAILED" in out
    assert "--check: worse than --baseline: precision 0.900 → 0.667" in err


def test_check_uses_thresholds_beside_the_cases(tmp_path: Path) -> None:
    cases = _small_suite(tmp_path / "cases")
    with pytest.raises(UsageError, match=r"no thresholds\.json beside"):
        _run(["--offline", "eval", "--cases", str(cases)], check=True)
    (cases / "thresholds.json").write_text(json.dumps({"local": {"recall": 0.99}}), encoding="utf-8")
    code, _, err = _run(["--offline", "eval", "--cases", str(cases)], check=True)
    assert code == 1 and "--check: recall" in err and "below its floor 0.990" in err
    (cases / "thresholds.json").write_text(json.dumps({"local": {"recall": 0.5}}), encoding="utf-8")
    assert _run(["--offline", "eval", "--cases", str(cases)], check=True)[0] == 0


def test_templates_choose_which_cases_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = _small_suite(tmp_path / "cases")
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "security", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["skipped_cases"] == 2 and doc["review_templates"] == ["security"]
    assert {c["kind"] for c in doc["cases"]} == {"diff"}
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "testing", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["kind"] for c in doc["cases"]} == {"failure"} and doc["figures"]["failure_accuracy"] == 1.0
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "nope"]) == 2
    assert main(["--offline", "eval", "--cases", str(tmp_path / "nowhere")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    assert main(["--offline", "eval", "--cases", str(cases), "--baseline", str(bad)]) == 2
    assert "not the --json output" in capsys.readouterr().err


def test_text_output_is_sanitized(tmp_path: Path) -> None:
    _write_case(tmp_path, "x", "id: evil\x1b[31m\nexpect: none", "diff", _new_file("a.py", "breakpoint()"))
    code, out, _ = _run(["--offline", "eval", "--cases", str(tmp_path)])
    assert code == 0 and "  evil: false positive debug-leftover" in out and "\x1b" not in out


def test_namespace_without_check_attribute_runs(tmp_path: Path) -> None:
    """cli.py may not know --check yet: the command reads it with a default."""
    cases = _small_suite(tmp_path / "cases")
    args = argparse.Namespace(templates=None, cases=str(cases), baseline=None, json=True, max_cost=None,
                              model=None, temperature=None, max_tokens=None, offline=True)  # fmt: skip
    out = io.StringIO()
    code = command.run(args, load_settings({"offline": True}), Console(out=out, err=io.StringIO()))
    assert code == 0 and json.loads(out.getvalue())["figures"]["cases"] == 6
