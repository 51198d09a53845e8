"""`explain/blame.py`: the lines that feed a failing statement, what a function returns, and the lines a
working tree changed since HEAD (real git repositories in tmp_path)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from gitrepo import GitRepo

from symphony_assist_hooks.explain.blame import (
    changed_lines,
    diff_of,
    feeding_lines,
    function_suspect,
    guard_lines,
    returned_lines,
)


def test_feeding_lines_follow_loops_with_blocks_and_augmented_assignments() -> None:
    source = (
        "def load(path, xs):\n"  # 1
        "    total = 0\n"  # 2
        "    with open(path) as fh:\n"  # 3
        "        scale = int(fh.read())\n"  # 4
        "    for x in xs:\n"  # 5
        "        total += x * scale\n"  # 6
        "    unrelated = 1\n"  # 7
        "    return total\n"  # 8
    )
    assert feeding_lines(source, [8]) == [2, 3, 4, 5, 6]


def test_a_loop_variable_read_after_the_loop_is_fed_by_the_loop() -> None:
    source = "def last(items):\n    for item in sorted(items):\n        pass\n    return item\n"
    assert feeding_lines(source, [4]) == [2]


def test_returned_lines_are_the_function_s_own_returns_and_yields() -> None:
    source = (
        "def doubled(xs):\n"  # 1
        "    def helper(x):\n"  # 2
        "        return x * 2\n"  # 3
        "    for x in xs:\n"  # 4
        "        yield helper(x)\n"  # 5
    )
    assert returned_lines(source) == [5]  # not the nested helper's return


def test_guard_lines_are_the_conditions_in_front_of_the_function_s_own_raises() -> None:
    source = (
        "def parse(text):\n"  # 1
        "    if not text:\n"  # 2
        "        raise ValueError('empty')\n"  # 3
        "    for ch in text:\n"  # 4
        "        if ch == '-':\n"  # 5
        "            try:\n"  # 6
        "                raise KeyError(ch)\n"  # 7: guarded by line 5 through the try
        "            finally:\n"  # 8
        "                pass\n"  # 9
        "    def inner():\n"  # 10
        "        if text:\n"  # 11
        "            raise TypeError\n"  # 12: a nested function's, not this one's
        "    raise RuntimeError\n"  # 13: unguarded
    )
    assert guard_lines(source) == [2, 5, 13]
    assert guard_lines("def f(x):\n    return x\n") == []  # never raises: nothing guards
    assert guard_lines("    broken = (\n") == []


def test_source_that_does_not_parse_names_no_lines() -> None:
    fragment = "    ordered = sorted(xs, key=lambda x:\n"  # what inspect gives for a lambda in a call spanning lines
    assert feeding_lines(fragment, [1]) == []
    assert returned_lines(fragment) == []


def test_a_function_without_source_is_no_suspect(tmp_path: Path) -> None:
    namespace: dict[str, object] = {}
    exec("def generated(x):\n    return x + 1\n", namespace)
    assert (
        function_suspect(namespace["generated"], tmp_path / "gen.py", tmp_path, why="raised here", rel="gen.py") is None
    )


# ------------------------------------------------------------------------------------------ git
CALC = (
    "def total(xs):\n    n = len(xs)\n    s = sum(xs)\n    return s\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n"
)


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"calc_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_changed_feeding_line_leads_and_only_the_function_s_hunks_are_kept(git_repo: GitRepo) -> None:
    git_repo.commit_files({"calc.py": CALC})
    changed = CALC.replace("s = sum(xs)", "s = sum(xs) + 1").replace("return sum(xs) / len(xs)", "return 0")
    path = git_repo.write("calc.py", changed)
    module = _load(path)

    suspect = function_suspect(module.total, path, git_repo.path, why="returned the value", rel="calc.py")  # type: ignore[attr-defined]

    assert suspect is not None
    assert (suspect["func"], suspect["line"], suspect["changed"]) == ("total", 3, [3])
    assert suspect["lines"] == [3, 4] and suspect["why"] == "changed since HEAD"  # `n = len(xs)` feeds nothing
    assert "+    s = sum(xs) + 1" in suspect["diff"]
    assert "return 0" not in suspect["diff"]  # mean's hunk is not total's
    assert "return 0" in diff_of(path, git_repo.path, 7, 8)


def test_an_unchanged_file_has_no_diff(git_repo: GitRepo) -> None:
    git_repo.commit_files({"calc.py": CALC})
    assert changed_lines(git_repo.path / "calc.py", git_repo.path) == ("", frozenset())
    assert diff_of(git_repo.path / "calc.py", git_repo.path, 1, 8) == ""


def test_a_repository_without_a_commit_has_no_diff(git_repo: GitRepo) -> None:
    path = git_repo.write("calc.py", CALC)  # `git diff HEAD` fails: there is no HEAD yet
    assert changed_lines(path, git_repo.path) == ("", frozenset())


def test_a_file_that_is_gone_has_no_diff(git_repo: GitRepo) -> None:
    assert changed_lines(git_repo.path / "deleted.py", git_repo.path) == ("", frozenset())


def test_the_diff_is_asked_again_once_the_file_changed(git_repo: GitRepo) -> None:
    git_repo.commit_files({"calc.py": CALC})
    path = git_repo.write("calc.py", CALC.replace("n = len(xs)", "n = 0"))
    assert changed_lines(path, git_repo.path)[1] == frozenset({2})

    path.write_text(CALC.replace("    return s\n", "    return -s\n"), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a later mtime, whatever the clock
    assert changed_lines(path, git_repo.path)[1] == frozenset({4})


def test_guard_lines_count_calls_that_always_raise() -> None:
    source = (
        "def convert(self, value):\n"  # 1
        "    if value < 0:\n"  # 2
        "        self.fail(value)\n"  # 3: always raises (click's ParamType.fail)
        "    if value > 9:\n"  # 4
        "        self.warn(value)\n"  # 5: returns
        "    return value\n"  # 6
    )
    always = {"fail"}
    assert guard_lines(source, lambda call: getattr(call.func, "attr", "") in always) == [2]
    assert guard_lines(source) == []
