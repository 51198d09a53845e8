"""Debugging leftovers (debug-leftover) through the code_review analyzer: debugger calls and imports, debug prints."""

from __future__ import annotations

from symphony_assist_hooks.analyzers.code_review import CodeReviewAnalyzer
from symphony_assist_hooks.analyzers.common import Target
from symphony_assist_hooks.findings import Severity

PYTHON = """import pdb
from ipdb import set_trace


def handle(order, server, IPython, tracer):
    pdb.set_trace()
    pdb.post_mortem()
    IPython.embed()
    server.embed()
    tracer.set_trace()
    print()
    print(f"Processing {order}")
    print(f"{order=}")
    print("debug:", order)
    return order
"""


def _found(target: Target) -> list[tuple[int, str, Severity]]:
    findings = CodeReviewAnalyzer(ruff=False).review([target])
    return [(f.line, f.title, f.severity) for f in findings if f.rule == "debug-leftover"]


def test_debugger_imports_and_calls_but_not_other_embeds_or_plain_prints() -> None:
    assert _found(Target.whole_file("shop/orders.py", PYTHON)) == [
        (1, "debugger import", Severity.MEDIUM),
        (2, "debugger import", Severity.MEDIUM),
        (6, "debugger call left in", Severity.MEDIUM),
        (7, "debugger call left in", Severity.MEDIUM),
        (8, "debugger call left in", Severity.MEDIUM),
        (10, "debugger call left in", Severity.MEDIUM),
        (13, "debug print left in", Severity.LOW),
        (14, "debug print left in", Severity.LOW),
    ]


def test_leftovers_on_unchanged_lines_are_not_reported() -> None:
    assert _found(Target("shop/orders.py", PYTHON, frozenset({7, 12}))) == [
        (7, "debugger call left in", Severity.MEDIUM)
    ]


def test_ruby_debugger_calls() -> None:
    text = "def show\n  binding.pry\n  @user = User.find(params[:id])\n  byebug\nend\n"
    findings = CodeReviewAnalyzer(ruff=False).review([Target.whole_file("app/users_controller.rb", text)])
    assert [(f.line, f.rule, f.severity) for f in findings] == [
        (2, "debug-leftover", Severity.MEDIUM),
        (4, "debug-leftover", Severity.MEDIUM),
    ]
    assert "binding.pry" in findings[0].message and "byebug" in findings[1].message
