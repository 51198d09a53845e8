"""The merge rule: the model adds findings to the analyzers', never removes one; same problem → one finding."""

from __future__ import annotations

from symphony_assist_hooks.findings import Finding, Origin, Severity
from symphony_assist_hooks.git.patch import parse_patch
from symphony_assist_hooks.review.merge import KNOWN_PREFIX, known_line, merge_findings, same_problem


def local(line: int, rule: str, severity: Severity = Severity.HIGH, path: str = "a.py") -> Finding:
    return Finding(path, line, line, severity, rule, f"local {rule}", source="local", template="security",
                   fingerprint=f"fp-{rule}-{line}")  # fmt: skip


def model(line: int, rule: str, severity: Severity = Severity.MEDIUM, path: str = "a.py", end: int = 0) -> Finding:
    return Finding(path, line, end or line, severity, rule, f"model {rule}", message="the model's words",
                   source="api", template="security", fingerprint=f"fp-model-{rule}")  # fmt: skip


def test_same_file_overlapping_lines_same_family_become_one_with_the_stronger_severity() -> None:
    (one,) = merge_findings([local(5, "bandit/B602", Severity.HIGH), model(5, "shell-injection", Severity.CRITICAL)])
    assert one.severity is Severity.CRITICAL
    assert (one.rule, one.line, one.fingerprint) == ("bandit/B602", 5, "fp-bandit/B602-5")  # the analyzer's anchor
    assert one.origins == (
        Origin("analyzer", "security", "bandit/B602", "local"),
        Origin("model", "security", "shell-injection", "api"),
    )
    assert one.title == "local bandit/B602"  # the analyzer's words are kept ...
    assert one.message == "the model's words"  # ... and the model's fill what the analyzer left empty
    (weaker,) = merge_findings([local(5, "bandit/B602", Severity.HIGH), model(5, "command-injection", Severity.LOW)])
    assert weaker.severity is Severity.HIGH  # a model cannot lower a severity either


def test_one_line_apart_matches_two_lines_apart_does_not() -> None:
    assert len(merge_findings([local(5, "bandit/B301"), model(6, "unsafe-deserialization")])) == 1
    assert len(merge_findings([local(5, "bandit/B301"), model(2, "pickle-load", end=4)])) == 1  # ranges touch
    assert len(merge_findings([local(5, "bandit/B301"), model(7, "unsafe-deserialization")])) == 2


def test_other_family_file_or_the_vague_family_keeps_both() -> None:
    assert len(merge_findings([local(5, "bandit/B602"), model(5, "unsafe-deserialization")])) == 2
    assert len(merge_findings([local(5, "bandit/B602"), model(5, "shell-injection", path="b.py")])) == 2
    assert not same_problem(local(5, "prompt-injection"), model(5, "review"))  # "other" says nothing


def test_the_model_cannot_remove_a_finding() -> None:
    found = [local(3, "bandit/B602"), local(9, "bandit/B301", Severity.MEDIUM)]
    merged = merge_findings([*found, model(1, "review", Severity.INFO)])  # "looks fine"
    assert [(f.rule, f.line, f.severity) for f in merged] == [
        ("review", 1, Severity.INFO),
        ("bandit/B602", 3, Severity.HIGH),
        ("bandit/B301", 9, Severity.MEDIUM),
    ]


def test_a_model_finding_matching_two_analyzer_findings_is_folded_into_both() -> None:
    merged = merge_findings([local(5, "bandit/B602"), local(5, "taint/command-injection"), model(5, "shell-injection")])
    assert len(merged) == 2
    assert all(any(o.kind == "model" for o in f.origins) for f in merged)


def test_exact_duplicates_of_one_kind_collapse_and_a_lone_model_finding_stays() -> None:
    merged = merge_findings([model(4, "logic-error", Severity.LOW), model(4, "logic-error", Severity.HIGH)])
    assert [(f.rule, f.severity) for f in merged] == [("logic-error", Severity.HIGH)]
    assert merged[0].origins == (Origin("model", "security", "logic-error", "api"),)


def test_sources_survive_the_json_round_trip() -> None:
    (one,) = merge_findings([local(5, "bandit/B602"), model(5, "shell-injection")])
    again = Finding.from_dict(one.to_dict())
    assert again == one
    lone = local(2, "secret")
    assert Finding.from_dict(lone.to_dict()) == lone  # a single source stays implicit


def test_the_known_line_names_local_findings_by_hunk_local_number() -> None:
    patch = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -10,2 +10,3 @@ def f():\n"
        " keep = 1\n+subprocess.call(x, shell=True)\n return keep\n"
    )
    (fd,) = parse_patch(patch)
    (hunk,) = fd.hunks
    line = known_line(hunk, [local(11, "bandit/B602"), local(11, "bandit/B602"), local(40, "bandit/B301")])
    assert line == f"{KNOWN_PREFIX} L2 bandit/B602"
    assert known_line(hunk, [local(12, "bandit/B301")]) == ""  # a context line is not the hunk's finding
    assert known_line(hunk, []) == ""
