"""The local analyzers on every reviewed file, remembered per file in the scan memo."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from symphony_assist_hooks import analyzers
from symphony_assist_hooks.review.local import Changed, analyze

RISKY = "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n"


class Memo:
    """The two calls `analyze` makes on a Cache, over a dict."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        self.entries[key] = dict(value)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    real = analyzers.run_local_review

    def counted(templates: Any, targets: Any, extra: Any = None) -> Any:
        seen.append([t.path for t in targets])
        return real(templates, targets, extra)

    monkeypatch.setattr(analyzers, "run_local_review", counted)
    return seen


def test_a_known_file_runs_no_analyzer_and_gives_the_same_findings(runs: list[list[str]]) -> None:
    memo = Memo()
    target = Changed("job.py", RISKY, frozenset({5}))
    first, _ = analyze(("security",), [target], memo)
    assert [(f.rule, f.line) for f in first] == [("bandit/B301", 5)]
    again, _ = analyze(("security",), [target], memo)
    assert again == first and runs == [["job.py"]]


def test_only_the_files_the_memo_does_not_know_are_analyzed(runs: list[list[str]]) -> None:
    memo = Memo()
    known = Changed("job.py", RISKY, frozenset({5}))
    analyze(("security",), [known], memo)
    edited = Changed("other.py", RISKY.replace("data", "blob"), frozenset({5}))
    found, _ = analyze(("security",), [known, edited], memo)
    assert runs == [["job.py"], ["other.py"]]
    assert sorted(f.path for f in found) == ["job.py", "other.py"]
    analyze(("security",), [Changed("job.py", RISKY, frozenset({4, 5}))], memo)  # other changed lines
    analyze(("security", "code_review"), [known], memo)  # other templates
    assert len(runs) == 4


def test_a_damaged_entry_is_analyzed_again(runs: list[list[str]]) -> None:
    memo = Memo()
    target = Changed("job.py", RISKY, frozenset({5}))
    analyze(("security",), [target], memo)
    for key in memo.entries:
        memo.entries[key] = {"f": [{"path": "job.py"}], "n": []}  # no line, no rule
    found, _ = analyze(("security",), [target], memo)
    assert len(runs) == 2 and [f.rule for f in found] == ["bandit/B301"]


def test_plugin_analyzers_are_never_remembered(runs: list[list[str]]) -> None:
    class Quiet:
        name = "security"

        def review(self, targets: Any) -> list[Any]:
            return []

    memo = Memo()
    target = Changed("job.py", RISKY, frozenset({5}))
    analyze(("security",), [target], memo, {"security": Quiet()})
    analyze(("security",), [target], memo, {"security": Quiet()})
    assert len(runs) == 2 and memo.entries == {}
