"""`symphony-assist stats` on a machine with nothing recorded, with a bad --since, and with a ledger it
cannot read: a report all the same (exit 0), or one line (exit 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from symphony_assist_hooks.cli import main


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_fresh_machine_reports_zeros_and_no_empty_sections(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "Cached Responses   0 (answers in the cache now)" in out
    assert "answers            0 (0 cache, 0 api, 0 local)" in out
    assert "budget this month  $0.0000 spent of $10.0000 cap" in out
    assert "budget per run     $0.50 cap per command" in out
    for section in ("spend per day", "fallback reasons", "by template", "by model"):
        assert section not in out  # nothing recorded: no empty chart or table


def test_a_since_that_is_not_a_date_is_one_line(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--since", "2026-13-01"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "symphony-assist: error: --since '2026-13-01' is not a date: use YYYY-MM-DD"
    ]
    assert captured.out == ""


def test_an_unreadable_ledger_is_reported_and_the_rest_still_shown(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cache / "ledger").mkdir(parents=True, mode=0o700)
    con = sqlite3.connect(cache / "ledger" / "ledger.db")
    con.execute("PRAGMA user_version = 99")  # a newer symphony-assist wrote it
    con.close()
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "Cached Responses   0" in out
    assert (
        f"budget             unreadable: budget ledger unreadable at {cache / 'ledger'}: "
        "written by a newer symphony-assist (schema 99)"
    ) in out
    assert "budget this month" not in out
