"""The comment checks through the code_review analyzer: TODO without an owner and commented-out code, per language."""

from __future__ import annotations

from symphony_assist_hooks.analyzers.code_review import CodeReviewAnalyzer
from symphony_assist_hooks.analyzers.common import Target


def _found(*targets: Target) -> list[tuple[str, int, int, str]]:
    findings = CodeReviewAnalyzer(ruff=False).review(list(targets))
    return sorted(
        (f.path, f.line, f.end_line, f.rule) for f in findings if f.rule in {"todo-no-owner", "commented-out-code"}
    )


def test_comments_before_a_tokenize_error_still_count() -> None:
    text = 'x = 1\n# TODO: close the string\ny = """never closed\n'
    assert _found(Target.whole_file("m.py", text)) == [("m.py", 2, 2, "todo-no-owner")]


def test_hash_and_slash_comments_in_other_languages() -> None:
    shell = Target.whole_file("deploy.sh", "#!/bin/sh\n# TODO: retry on failure\nrsync -a . host:  # FIXME\n")
    yaml = Target.whole_file("ci.yml", "name: ci\n  # FIXME pin the image\n")
    js = Target.whole_file("web/app.js", "const a = 1;\nstart(); // TODO: stop the timer too\n// TODO(ann): fine\n")
    text = Target.whole_file("notes.txt", "TODO: nothing to parse here\n")
    assert _found(shell, yaml, js, text) == [
        ("ci.yml", 2, 2, "todo-no-owner"),
        ("deploy.sh", 2, 2, "todo-no-owner"),
        ("web/app.js", 2, 2, "todo-no-owner"),
    ]


def test_todo_on_an_unchanged_line_is_not_reported() -> None:
    text = "# TODO: one\nx = 1\n# TODO: two\n"
    assert _found(Target("m.py", text, frozenset({2, 3}))) == [("m.py", 3, 3, "todo-no-owner")]


def test_what_counts_as_commented_out_python() -> None:
    code = (
        "def f(x):\n"
        "    # if x:\n"
        "    #     limit: int = 5\n"
        "    #     refresh(limit)\n"
        "    # type: ignore\n"
        "    #\n"
        "    return x\n"
    )
    assert _found(Target.whole_file("m.py", code)) == [("m.py", 2, 4, "commented-out-code")]
    prose = (
        "def f(x):\n"
        "    # Note: the limit\n"
        "    # foo; bar\n"
        "    # important\n"
        "    # pass\n"
        "    return x  # value = compute(x)\n"
        "    # y = 2\n"
    )
    assert _found(Target.whole_file("m.py", prose)) == []


def test_commented_out_javascript_but_not_lint_directives() -> None:
    text = "// const total = sum(items);\n// return total;\nrun();\n// eslint-disable-next-line no-console\n// @ts-ignore\n"
    assert _found(Target.whole_file("web/a.ts", text)) == [("web/a.ts", 1, 2, "commented-out-code")]


def test_commented_out_code_on_unchanged_lines_is_not_reported() -> None:
    text = "x = 1\n# y = compute(x)\n# return y\nz = 2\n"
    assert _found(Target("m.py", text, frozenset({1, 4}))) == []
    assert _found(Target("m.py", text, frozenset({3}))) == [("m.py", 3, 3, "commented-out-code")]
