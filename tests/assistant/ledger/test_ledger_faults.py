"""The disk ledger when SQLite fails at one precise step: a lock while the database is opened, a failed
integrity check, a commit that finds the disk full, an interrupt in the middle of a reservation.

The faults are injected into the sqlite3 connection (the rest is the real database in tmp_path).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.assistant.ledger import open_ledger
from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.errors import BudgetError


class Faulty:
    """A connection that runs `fault(sql)` before each statement (it may raise or answer instead)."""

    def __init__(self, con: sqlite3.Connection, fault: Callable[[str], Any]) -> None:
        self._con = con
        self._fault = fault

    def execute(self, sql: str, *args: Any) -> Any:
        answer = self._fault(sql.strip().upper())
        return answer if answer is not None else self._con.execute(sql, *args)

    def close(self) -> None:
        self._con.close()


class Row:
    def __init__(self, *values: Any) -> None:
        self.values = values

    def fetchone(self) -> tuple[Any, ...]:
        return self.values


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[str], Any]], None]:
    real = sqlite3.connect

    def _inject(fault: Callable[[str], Any]) -> None:
        monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Faulty(real(*a, **k), fault))

    return _inject


def ledger_of(tmp_path: Path) -> DiskLedger:
    settings = Settings(cache_dir=tmp_path / "cache", budget_monthly=1.0, budget_run=None, budget_daily=None)
    ledger = open_ledger(settings, warn=print)
    assert isinstance(ledger, DiskLedger)
    return ledger


def test_a_lock_while_the_database_is_opened_is_waited_out(tmp_path: Path, inject: Any) -> None:
    locks = [2]

    def locked_twice(sql: str) -> None:
        if sql.startswith("PRAGMA JOURNAL_MODE") and locks[0]:
            locks[0] -= 1
            raise sqlite3.OperationalError("database is locked")

    inject(locked_twice)
    ledger = ledger_of(tmp_path)
    ledger.settle(ledger.reserve(100), 40)
    assert ledger.status()["month"]["spent"] == 40
    assert locks == [0]


def test_a_failed_integrity_check_refuses_paid_calls(tmp_path: Path, inject: Any) -> None:
    inject(
        lambda sql: (
            Row("*** in database main *** Page 3: btreeInitPage() returns error code 11")
            if sql == "PRAGMA QUICK_CHECK"
            else None
        )
    )
    ledger = ledger_of(tmp_path)
    with pytest.raises(BudgetError) as refused:
        ledger.reserve(10)
    assert str(refused.value).startswith(
        f"budget ledger unreadable at {tmp_path / 'cache' / 'ledger'}: integrity check failed (*** in database main"
    )
    assert str(refused.value).endswith("no paid call was made. Remove the directory to reset it")


def test_a_commit_that_finds_the_disk_full_refuses_the_call(tmp_path: Path, inject: Any) -> None:
    ledger_of(tmp_path).status()  # created while there was room
    full = [False]

    def commit(sql: str) -> None:
        if sql == "COMMIT" and full[0]:
            raise sqlite3.OperationalError("database or disk is full")

    inject(commit)
    ledger = ledger_of(tmp_path)
    full[0] = True
    with pytest.raises(BudgetError, match=r"cannot be written \(database or disk is full\); no paid call was made"):
        ledger.reserve(10)
    full[0] = False
    status = ledger.status()
    assert (status["month"]["spent"], status["month"]["reserved"]) == (0, 0)  # nothing half-written


def test_an_interrupt_during_a_reservation_leaves_nothing_reserved(tmp_path: Path, inject: Any) -> None:
    interrupt = [False]

    def ctrl_c(sql: str) -> None:
        if interrupt[0] and sql.startswith("INSERT"):
            raise KeyboardInterrupt

    inject(ctrl_c)
    ledger = ledger_of(tmp_path)
    interrupt[0] = True
    with pytest.raises(KeyboardInterrupt):  # not turned into a BudgetError: the run is being stopped
        ledger.reserve(10)
    interrupt[0] = False
    assert ledger.status()["month"]["reserved"] == 0
    ledger.settle(ledger.reserve(10), 10)  # the ledger is still usable
    assert ledger.status()["month"]["spent"] == 10


def test_a_long_many_line_sqlite_report_is_one_short_line(tmp_path: Path, inject: Any) -> None:
    report = "disk I/O error\n" + "detail " * 60

    def broken(sql: str) -> None:
        if sql.startswith("BEGIN"):
            raise sqlite3.OperationalError(report)

    inject(broken)
    with pytest.raises(BudgetError) as refused:
        ledger_of(tmp_path).reserve(10)
    message = str(refused.value)
    assert "\n" not in message
    assert "disk I/O error detail detail" in message
    assert "…; no paid call was made" in message  # the report is cut, the sentence is not
    assert len(message) < 200 + len(str(tmp_path)) + 120


def test_a_release_that_cannot_be_written_is_a_warning(
    tmp_path: Path, inject: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = [False]

    def delete(sql: str) -> None:
        if failing[0] and sql.startswith("DELETE"):
            raise sqlite3.OperationalError("attempt to write a readonly database")

    inject(delete)
    ledger = ledger_of(tmp_path)
    held = ledger.reserve(10)
    failing[0] = True
    ledger.release(held)  # the call was not made: warn, never raise
    assert capsys.readouterr().out.strip() == (
        "budget: could not release a reservation (attempt to write a readonly database); it will expire"
    )


# ------------------------------------------------------------------------------------- whose reservation
def test_a_process_we_cannot_judge_counts_as_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reservation is swept only when its process is known to be gone: unknown means alive."""
    import os

    from symphony_assist_hooks.assistant.ledger import rules

    assert rules.pid_alive(0) and rules.pid_alive(-7)  # not a process id: a malformed entry, not a dead run

    def other_user(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", other_user)
    assert rules.pid_alive(424242)  # EPERM: it exists, under another user
    monkeypatch.setattr(os, "kill", lambda pid, sig: None)  # exists for kill, gone from /proc (it just exited)
    assert rules.pid_alive(2**22 + 12345)
