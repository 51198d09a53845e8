"""The dialect memory's file when it is hand-edited, full, or cannot be written (docs: a damaged or foreign
file is ignored, a failed write only loses the memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symphony_assist_hooks.assistant.provider import dialect
from symphony_assist_hooks.assistant.provider.dialect import FILE_NAME, DialectMemory

URL = "http://127.0.0.1:8080/v1"


def test_an_unknown_dialect_is_a_bug_not_a_memory(tmp_path: Path) -> None:
    memory = DialectMemory(tmp_path / FILE_NAME)
    with pytest.raises(ValueError, match="unknown dialect 'xml'"):
        memory.learn(URL, "m", "xml")
    assert not (tmp_path / FILE_NAME).exists()


def test_entries_that_are_not_ours_are_ignored_and_the_good_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    entries = {
        f"{URL} good": {"dialect": "json_object", "until": 2000.0},
        f"{URL} list": ["json_object", 2000.0],
        f"{URL} alien": {"dialect": "yaml", "until": 2000.0},
        f"{URL} forever": {"dialect": "text", "until": True},
        f"{URL} when": {"dialect": "text", "until": "tomorrow"},
    }
    path.write_text(json.dumps({"version": 1, "entries": entries}))
    memory = DialectMemory(path, ttl=60, clock=lambda: 1000.0)
    assert memory.recall(URL, "good") == "json_object"
    assert [memory.recall(URL, m) for m in ("list", "alien", "forever", "when")] == [None] * 4
    memory.learn(URL, "new", "text")  # rewritten: only well-formed entries survive
    kept = json.loads(path.read_text())["entries"]
    assert sorted(kept) == [f"{URL} good", f"{URL} new"]


def test_a_full_file_keeps_the_freshest_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialect, "_MAX_ENTRIES", 3)
    now = [1000.0]
    memory = DialectMemory(tmp_path / FILE_NAME, ttl=60, clock=lambda: now[0])
    for i in range(5):
        memory.learn(URL, f"m{i}", "json_schema")
        now[0] += 1
    kept = json.loads((tmp_path / FILE_NAME).read_text())["entries"]
    assert sorted(kept) == [f"{URL} m2", f"{URL} m3", f"{URL} m4"]
    fresh = DialectMemory(tmp_path / FILE_NAME, ttl=60, clock=lambda: now[0])  # the next run
    assert (fresh.recall(URL, "m0"), fresh.recall(URL, "m4")) == (None, "json_schema")


def test_a_file_that_cannot_be_replaced_loses_only_the_memory(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.mkdir()  # its name is taken by a folder: the new file cannot be moved in
    memory = DialectMemory(path, ttl=60, clock=lambda: 1000.0)
    memory.learn(URL, "m", "text")  # no exception
    assert memory.recall(URL, "m") == "text"  # this process still knows
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no temporary file left behind
    assert DialectMemory(path, ttl=60, clock=lambda: 1000.0).recall(URL, "m") is None
