from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from symphony_assist_hooks.errors import UsageError
from symphony_assist_hooks.findings import Finding, Severity, fingerprint
from symphony_assist_hooks.review.baseline import (
    apply_suppressions,
    finding_key,
    inline_rules,
    load_baseline,
    worktree_lines,
    write_baseline,
)


def f(line: int = 2, rule: str = "sql-injection", path: str = "src/a.py", fp: str = "") -> Finding:
    return Finding(path, line, line, Severity.HIGH, rule, f"title {line}", fingerprint=fp)


def lines_of(text: str) -> Callable[[str, int], str]:
    lines = text.splitlines()

    def file_lines(path: str, n: int) -> str:
        return lines[n - 1] if 1 <= n <= len(lines) else ""

    return file_lines


NO_LINES = lines_of("")


def test_baseline_round_trip(tmp_path: Path) -> None:
    findings = [f(5, fp="bbb"), f(2, fp="aaa"), f(9, fp="aaa"), f(7, rule="x", fp="")]
    path = tmp_path / "sub" / "baseline.json"
    assert write_baseline(findings, path) == 3
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["tool"] == "symphony-assist"
    keys = [e["fingerprint"] for e in doc["fingerprints"]]
    assert keys == sorted(keys)
    entry = next(e for e in doc["fingerprints"] if e["fingerprint"] == "aaa")
    assert entry == {"fingerprint": "aaa", "rule": "sql-injection", "path": "src/a.py", "title": "title 2"}
    assert load_baseline(path) == {"aaa", "bbb", fingerprint("src/a.py", "x", "title 7")}
    assert path.read_text().endswith("}\n")


def test_baseline_hides_known_findings_only(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline([f(fp="old"), f(rule="x")], path)
    new = f(3, fp="new")
    kept, suppressed = apply_suppressions([f(fp="old"), new, f(rule="x")], path, NO_LINES)
    assert kept == [new] and suppressed == 2


def test_baseline_survives_a_moved_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline([f(2, fp="same-content")], path)
    kept, suppressed = apply_suppressions([f(40, fp="same-content")], path, NO_LINES)
    assert kept == [] and suppressed == 1


def test_missing_baseline_is_empty_and_none_means_no_baseline(tmp_path: Path) -> None:
    kept, suppressed = apply_suppressions([f()], tmp_path / "nope.json", NO_LINES)
    assert (len(kept), suppressed) == (1, 0)
    assert apply_suppressions([f()], None, NO_LINES) == ([f()], 0)


def test_plain_list_baseline_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('["x", {"fingerprint": "y"}, 3, ""]')
    assert load_baseline(path) == {"x", "y"}


@pytest.mark.parametrize("content", ["{not json", '{"fingerprints": 3}', "42"])
def test_corrupt_baseline_is_a_usage_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(UsageError, match="baseline"):
        load_baseline(path)


@pytest.mark.parametrize(
    "line",
    [
        "x = query(q)  # symphony-assist: ignore",
        "x = query(q)  # symphony-assist: ignore[sql-injection]",
        "x = query(q)  # noqa: S608  # symphony-assist: ignore[other, SQL-Injection]",
        "query(q); // symphony-assist: ignore",
        "SELECT * FROM t -- symphony-assist:ignore[sql-injection]",
        "query(q); /* symphony-assist: ignore */",
        "<!-- symphony-assist: ignore -->",
    ],
)
def test_inline_comment_on_the_line(line: str) -> None:
    kept, suppressed = apply_suppressions([f(2)], None, lines_of("first\n" + line))
    assert kept == [] and suppressed == 1


@pytest.mark.parametrize(
    "above",
    ["# symphony-assist: ignore", "    // symphony-assist: ignore[sql-injection]", " * symphony-assist: ignore"],
)
def test_inline_comment_on_the_line_above(above: str) -> None:
    _kept, suppressed = apply_suppressions([f(2)], None, lines_of(f"{above}\nx = query(q)"))
    assert suppressed == 1


@pytest.mark.parametrize(
    "text",
    [
        "x = 1\nx = query(q)  # symphony-assist: ignore[other-rule]",  # another rule
        "y = eval(z)  # symphony-assist: ignore\nx = query(q)",  # code above: its comment is for that line
        "x = 1\nprint('symphony-assist: ignore')",  # not in a comment
        "x = 1\nx = q  # symphony-assist: ignored",  # not the directive
        "x = 1\nx = q  # symphony-assist: ignore-next",
        "# symphony-assist: ignore\n\nx = query(q)",  # two lines above
    ],
)
def test_not_suppressed(text: str) -> None:
    line = 3 if text.count("\n") == 2 else 2
    kept, suppressed = apply_suppressions([f(line)], None, lines_of(text))
    assert suppressed == 0 and len(kept) == 1


def test_inline_rules_parsing() -> None:
    assert inline_rules("# symphony-assist: ignore[a, B  c]") == frozenset({"a", "b", "c"})
    assert inline_rules("# symphony-assist: ignore[]") == frozenset({"*"})
    assert inline_rules("# nothing here") is None


def test_file_lines_errors_do_not_crash() -> None:
    def broken(path: str, n: int) -> str:
        raise OSError("gone")

    assert apply_suppressions([f()], None, broken) == ([f()], 0)


def test_worktree_lines(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("# symphony-assist: ignore\nx = query(q)\n")
    (tmp_path.parent / "outside.py").write_text("# symphony-assist: ignore\n")
    read = worktree_lines(tmp_path)
    assert read("src/a.py", 2) == "x = query(q)"
    assert read("src/a.py", 99) == "" and read("missing.py", 1) == ""
    assert read("../outside.py", 1) == ""  # never read outside the repository
    kept, suppressed = apply_suppressions([f(2), f(1, path="src/b.py")], None, read)
    assert suppressed == 1 and len(kept) == 1


def test_finding_key_prefers_the_fingerprint() -> None:
    assert finding_key(f(fp="abc")) == "abc"
    assert finding_key(f()) == fingerprint("src/a.py", "sql-injection", "title 2")
