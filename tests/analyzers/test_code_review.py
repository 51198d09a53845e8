"""The code_review analyzer: curated ruff rules plus our own checks, on changed lines only."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from symphony_assist_hooks.analyzers import code_review as code_review_module
from symphony_assist_hooks.analyzers.code_review import CodeReviewAnalyzer
from symphony_assist_hooks.analyzers.common import Target
from symphony_assist_hooks.findings import Finding, Severity

SOURCE = """import os


def collect(item, bucket=[]):
    bucket.append(item)
    return bucket


def remove(path):
    try:
        os.remove(path)
    except Exception:
        pass
    breakpoint()
"""


def _rules(findings: list[Finding]) -> list[tuple[int, str]]:
    return sorted((f.line, f.rule) for f in findings)


def test_ruff_and_own_checks_land_on_the_right_lines() -> None:
    findings = CodeReviewAnalyzer().review([Target.whole_file("pkg/util.py", SOURCE)])
    assert _rules(findings) == [(4, "ruff/B006"), (12, "swallowed-exception"), (14, "debug-leftover")]
    by_rule = {f.rule: f for f in findings}
    assert "in `collect`" in by_rule["ruff/B006"].message
    assert by_rule["ruff/B006"].suggestion
    assert by_rule["swallowed-exception"].severity is Severity.MEDIUM
    assert "`remove`" in by_rule["swallowed-exception"].message
    assert all(f.source == "local" and f.template == "code_review" and f.fingerprint for f in findings)


def test_only_changed_lines_are_reported() -> None:
    target = Target("pkg/util.py", SOURCE, frozenset({14}))
    assert _rules(CodeReviewAnalyzer().review([target])) == [(14, "debug-leftover")]


def test_missing_ruff_is_a_notice_and_the_own_checks_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_review_module, "find_ruff", lambda: None)
    result = CodeReviewAnalyzer().analyze([Target.whole_file("pkg/util.py", SOURCE)])
    assert result.notices == ["code_review: ruff not found (pip install ruff); lint checks skipped"]
    # without ruff, our own mutable-default check stands in for B006
    assert _rules(result.findings) == [(4, "mutable-default"), (12, "swallowed-exception"), (14, "debug-leftover")]


def test_a_broken_ruff_is_a_notice() -> None:
    result = CodeReviewAnalyzer(ruff=["/nonexistent/ruff"]).analyze([Target.whole_file("a.py", "x = 1\n")])
    assert len(result.notices) == 1 and result.notices[0].startswith("code_review: ruff failed on a.py")


def test_conflict_markers_in_a_non_python_file() -> None:
    text = "name: ci\n<<<<<<< HEAD\ntimeout: 20\n=======\ntimeout: 30\n>>>>>>> feature\nsteps: []\n"
    findings = CodeReviewAnalyzer().review([Target("ci.yml", text, frozenset({2, 3, 4, 5, 6}))])
    assert [(f.line, f.end_line, f.rule, f.severity) for f in findings] == [(2, 6, "conflict-marker", Severity.HIGH)]


def test_conflict_markers_in_python_are_not_also_syntax_errors() -> None:
    text = "A = 1\n<<<<<<< HEAD\nB = 2\n=======\nB = 3\n>>>>>>> main\n"
    findings = CodeReviewAnalyzer().review([Target.whole_file("m.py", text)])
    assert [f.rule for f in findings] == ["conflict-marker"]


def test_rst_heading_underline_is_not_a_conflict_marker() -> None:
    text = "Title\n=======\n\nBody.\n"
    assert CodeReviewAnalyzer().review([Target.whole_file("docs/index.rst", text)]) == []


@pytest.mark.parametrize(
    ("comment", "flagged"),
    [
        ("# TODO: handle retries", True),
        ("# FIXME handle retries", True),
        ("# TODO(alice): handle retries", False),
        ("# TODO @bob handle retries", False),
        ("# TODO #123 handle retries", False),
        ("# TODO: SHOP-42 handle retries", False),
        ("# todo list of the day", False),
    ],
)
def test_todo_needs_an_owner(comment: str, flagged: bool) -> None:
    findings = CodeReviewAnalyzer(ruff=False).review([Target.whole_file("m.py", f"x = 1\n{comment}\n")])
    assert [f.rule for f in findings] == (["todo-no-owner"] if flagged else [])


def test_commented_out_code_blocks_but_not_prose() -> None:
    text = (
        "def f(x):\n"
        "    # result = compute(x)\n"
        "    # return result\n"
        "    # If the cache is cold we fall back to the database (slow).\n"
        "    # Note: rounding happens once.\n"
        "    return x\n"
    )
    findings = CodeReviewAnalyzer(ruff=False).review([Target.whole_file("m.py", text)])
    assert [(f.line, f.end_line, f.rule) for f in findings] == [(2, 3, "commented-out-code")]


def test_debug_prints_only_in_library_code() -> None:
    lib = "def f(order):\n    print(order)\n    print(f'{order=}')\n    print('Processing order')\n"
    findings = CodeReviewAnalyzer(ruff=False).review([Target.whole_file("shop/orders.py", lib)])
    assert [(f.line, f.rule) for f in findings] == [(2, "debug-leftover"), (3, "debug-leftover")]
    assert "print(order)" in findings[0].message
    cli = "import argparse\n\n\ndef main():\n    print(argparse)\n"
    assert CodeReviewAnalyzer(ruff=False).review([Target.whole_file("shop/cli.py", cli)]) == []


def test_javascript_leftovers_and_empty_catch() -> None:
    text = "function f(x) {\n  console.log(x);\n  debugger;\n  try { g(); } catch (e) {}\n}\n"
    findings = CodeReviewAnalyzer().review([Target.whole_file("web/app.js", text)])
    assert _rules(findings) == [(2, "debug-leftover"), (3, "debug-leftover"), (4, "swallowed-exception")]
    assert {f.line: f.severity for f in findings} == {2: Severity.LOW, 3: Severity.MEDIUM, 4: Severity.MEDIUM}


def test_long_added_function_and_long_line() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(85))
    text = f"def build():\n{body}    return x0\n"
    long = Target.whole_file("m.py", text)
    findings = CodeReviewAnalyzer(ruff=False).review([long])
    assert [(f.line, f.rule, f.title) for f in findings] == [(1, "long-function", "long function `build`")]
    unchanged = Target("m.py", text, frozenset({2}))
    assert CodeReviewAnalyzer(ruff=False).review([unchanged]) == []
    line = "call(" + ", ".join(f"argument_{i}" for i in range(25)) + ");\n"
    text = "const a = 1;\n" * 5 + line
    findings = CodeReviewAnalyzer(ruff=False).review([Target.whole_file("a.js", text)])
    assert [(f.line, f.rule) for f in findings] == [(6, "long-line")]
    assert CodeReviewAnalyzer(ruff=False).review([Target.whole_file("dist/a.min.js", text)]) == []
    assert CodeReviewAnalyzer(ruff=False).review([Target.whole_file("a.js", line)]) == []  # one line: minified


def test_narrow_exceptions_may_be_ignored() -> None:
    text = "import os\n\n\ndef f(p):\n    try:\n        os.remove(p)\n    except FileNotFoundError:\n        pass\n"
    assert CodeReviewAnalyzer().review([Target.whole_file("m.py", text)]) == []


def test_a_file_nested_too_deep_to_parse_does_not_hide_the_other_files() -> None:
    deep = Target.whole_file("gen/table.py", "x = " + "+".join(["1"] * 5000) + "\n# TODO: regenerate\n")
    findings = CodeReviewAnalyzer().review([deep, Target.whole_file("pkg/util.py", SOURCE)])
    assert _rules([f for f in findings if f.path == "pkg/util.py"]) == [
        (4, "ruff/B006"),
        (12, "swallowed-exception"),
        (14, "debug-leftover"),
    ]
    assert [(f.line, f.rule) for f in findings if f.path == "gen/table.py"] == [(2, "todo-no-owner")]


def test_find_ruff_falls_back_from_the_scripts_dir_to_path_to_the_ruff_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path / "empty"))
    monkeypatch.setattr(shutil, "which", lambda name: f"/opt/bin/{name}")
    assert code_review_module.find_ruff() == ["/opt/bin/ruff"]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    package = types.ModuleType("ruff.__main__")
    package.find_ruff_bin = lambda: tmp_path / "site" / "ruff"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ruff.__main__", package)
    assert code_review_module.find_ruff() == [str(tmp_path / "site" / "ruff")]

    def missing() -> Path:
        raise FileNotFoundError("no binary in the wheel")

    package.find_ruff_bin = missing  # type: ignore[attr-defined]
    assert code_review_module.find_ruff() is None
    monkeypatch.setitem(sys.modules, "ruff.__main__", None)  # not installed: the import fails
    assert code_review_module.find_ruff() is None
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ("ruff.exe" if os.name == "nt" else "ruff")).write_text("")
    assert code_review_module.find_ruff() == [str(tmp_path / "empty" / ("ruff.exe" if os.name == "nt" else "ruff"))]


def _fake_ruff(script: str) -> list[str]:
    """A stand-in ruff command: Python running `script` (ruff's arguments are ignored)."""
    return [sys.executable, "-c", script]


def test_a_ruff_that_exits_with_an_error_or_prints_no_json_is_a_notice() -> None:
    target = Target.whole_file("a.py", "breakpoint()\n")
    failing = CodeReviewAnalyzer(
        ruff=_fake_ruff("import sys; sys.stderr.write('warn\\nerror: bad config\\n'); sys.exit(2)")
    )
    result = failing.analyze([target])
    assert result.notices == ["code_review: ruff failed on a.py: error: bad config"]
    assert [f.rule for f in result.findings] == ["debug-leftover"]  # the own checks still ran
    silent = CodeReviewAnalyzer(ruff=_fake_ruff("import sys; sys.exit(3)")).analyze([target])
    assert silent.notices == ["code_review: ruff failed on a.py: exit 3"]
    garbled = CodeReviewAnalyzer(ruff=_fake_ruff("print('not json')")).analyze([target])
    assert garbled.notices == ["code_review: ruff failed on a.py: unreadable JSON output"]


def test_a_ruff_rule_without_a_fix_or_our_suggestion_points_to_its_documentation() -> None:
    diag = {"code": "B999", "message": "made-up check", "location": {"row": 1}, "url": "https://docs.example/B999"}
    script = f"import json; print(json.dumps([{diag!r}, 'not a diagnostic']))"
    findings = CodeReviewAnalyzer(ruff=_fake_ruff(script)).review([Target.whole_file("a.py", "x = 1\n")])
    assert [(f.line, f.rule, f.suggestion, f.severity) for f in findings] == [
        (1, "ruff/B999", "See https://docs.example/B999.", Severity.MEDIUM)
    ]


def test_redefinitions_are_low_and_a_bare_except_that_re_raises_is_not_reported() -> None:
    text = (
        "import json\n\n\ndef load(p):\n    return p\n\n\ndef load(p):\n    try:\n"
        "        return json.loads(p)\n    except:\n        print('failed', p)\n        raise\n"
    )
    findings = CodeReviewAnalyzer().review([Target.whole_file("pkg/io.py", text)])
    assert [(f.line, f.rule, f.severity) for f in findings] == [(8, "ruff/F811", Severity.LOW)]
    swallowing = text.replace("        raise\n", "        return None\n")
    rules = [(f.line, f.rule) for f in CodeReviewAnalyzer().review([Target.whole_file("pkg/io.py", swallowing)])]
    assert (11, "ruff/E722") in rules


def test_a_bare_raise_outside_an_except_is_medium_and_other_pylint_errors_stay_high() -> None:
    """flask's handle_user_exception re-raises with a bare `raise` (it is called from an except block):
    worth reading, not a commit refused. A `return` in `__init__` is still a high error."""
    text = (
        "def handle(error, handler):\n    if handler is None:\n        raise\n    return handler(error)\n\n\n"
        "class Box:\n    def __init__(self):\n        return 1\n"
    )
    findings = CodeReviewAnalyzer().review([Target.whole_file("pkg/app.py", text)])
    assert [(f.line, f.rule, f.severity) for f in findings] == [
        (3, "ruff/PLE0704", Severity.MEDIUM),
        (9, "ruff/PLE0101", Severity.HIGH),
    ]


def test_an_attribute_read_for_its_effect_is_no_finding() -> None:
    """requests reads `resp.content` to consume the socket, and its tests check an attribute exists."""
    text = "def drain(resp):\n    resp.content  # consume the socket\n    return resp\n\n\ndef probe(mod):\n    mod.extra\n"
    assert CodeReviewAnalyzer().review([Target.whole_file("pkg/io.py", text)]) == []


def test_a_swallowed_error_in_del_is_the_idiom_not_a_finding() -> None:
    """click's stream wrapper: `def __del__: try: self.detach() except Exception: pass`."""
    text = (
        "class Wrapper:\n    def __del__(self):\n        try:\n            self.detach()\n        except Exception:\n"
        "            pass\n\n    def close(self):\n        try:\n            self.detach()\n        except Exception:\n"
        "            pass\n"
    )
    findings = CodeReviewAnalyzer().review([Target.whole_file("pkg/streams.py", text)])
    assert [(f.line, f.rule) for f in findings] == [(11, "swallowed-exception")]


def test_a_class_level_table_only_read_is_configuration_a_mutated_one_a_shared_bug() -> None:
    """djangorestframework: `fields = [...]` in every serializer's Meta (358 RUF012 of 446 findings)."""
    text = (
        "class Meta:\n    fields = ['id', 'name']\n    styles = {\n        'k': 1,\n    }\n\n\n"
        "class Registry:\n    handlers = []\n    counts = {}\n\n"
        "    def add(self, handler):\n        self.handlers.append(handler)\n"
        "        self.counts[handler] = 1\n        return self.handlers\n"
    )
    findings = CodeReviewAnalyzer().review([Target.whole_file("app/serializers.py", text)])
    assert [(f.line, f.rule) for f in findings] == [(9, "ruff/RUF012"), (10, "ruff/RUF012")]


def test_a_lambda_that_defers_a_name_is_no_finding() -> None:
    """marshmallow's self-referencing schema: `lambda: MultipleSelfSchema()` names a class not yet defined."""
    text = (
        "def make(factory, name):\n    return factory\n\n\n"
        "def test_self_reference():\n    class Node:\n        child = make(lambda: Node(), 'name')\n\n    return Node\n"
    )
    assert CodeReviewAnalyzer().review([Target.whole_file("app/schema.py", text)]) == []


def test_an_async_api_taking_a_timeout_is_a_design_not_a_bug() -> None:
    """httpx's `async def request(..., timeout=...)`: ASYNC109 prefers cancel scopes; a blocking call in an
    async function (ASYNC2xx) is still reported."""
    text = (
        "import time\n\n\nasync def request(url, timeout=5.0):\n    return url\n\n\n"
        "async def poll(url):\n    time.sleep(1)\n    return url\n"
    )
    findings = CodeReviewAnalyzer().review([Target.whole_file("pkg/client.py", text)])
    assert [(f.line, f.rule) for f in findings] == [(9, "ruff/ASYNC251")]
