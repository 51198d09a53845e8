"""The budget ledger: caps, periods and faults, with real processes sharing one ledger directory."""

from __future__ import annotations

import calendar
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.assistant.ledger import Ledger, open_ledger
from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
from symphony_assist_hooks.assistant.ledger.memory import MemoryLedger
from symphony_assist_hooks.assistant.ledger.rules import Caps, format_usd, periods
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.errors import EXIT_BUDGET, BudgetError

JAN_31_LAST_SECOND = calendar.timegm((2026, 1, 31, 23, 59, 59)) + 0.9
FEB_1 = calendar.timegm((2026, 2, 1, 0, 0, 1))
DAY = 86400.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        assert "\n" not in message, message
        self.append(message)


def settings(tmp_path: Path, **caps: float | None) -> Settings:
    values: dict[str, Any] = {"budget_run": None, "budget_daily": None, "budget_monthly": None}
    values.update(caps)
    return Settings(cache_dir=tmp_path / "cache", **values)


def usd(micro: int) -> float:
    return micro / 1_000_000


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


# ------------------------------------------------------------------------------------- basic caps
@pytest.mark.parametrize("backend", ["disk", "memory"])
def test_reserve_settle_release_and_status(tmp_path: Path, warnings: Warnings, backend: str) -> None:
    s = Settings(cache_dir=tmp_path, cache_backend="disk", budget_monthly=0.0001, budget_run=None)
    caps = Caps.from_settings(s)
    ledger = open_ledger(s, warn=warnings) if backend == "disk" else MemoryLedger(caps, warn=warnings)
    a = ledger.reserve(60)
    with pytest.raises(BudgetError) as info:
        ledger.reserve(50)
    assert str(info.value) == (
        "budget: monthly cap of $0.0001 reached (spent $0.00, $0.00006 reserved by calls in flight, "
        "this call needs up to $0.00005)"
    )
    assert info.value.exit_code == EXIT_BUDGET
    ledger.release(a)  # release restores the budget
    ledger.release(a)  # and is idempotent
    b = ledger.reserve(50)
    ledger.settle(b, 40)
    with pytest.raises(ValueError, match="already settled"):
        ledger.settle(b, 40)
    status = ledger.status()
    assert status["backend"] == backend
    assert status["month"]["spent"] == 40
    assert status["month"]["reserved"] == 0
    assert status["month"]["cap"] == 100
    assert status["day"]["spent"] == 40
    assert status["run"] == {"spent": 40, "reserved": 0, "cap": None}
    assert status["months"] == {status["month"]["period"]: 40}
    assert warnings == []


def test_message_format_for_whole_dollars(tmp_path: Path) -> None:
    ledger = open_ledger(settings(tmp_path, budget_monthly=10.0), warn=print)
    ledger.settle(ledger.reserve(9_990_000), 9_990_000)
    with pytest.raises(BudgetError) as info:
        ledger.reserve(20_000)
    assert str(info.value) == ("budget: monthly cap of $10.00 reached (spent $9.99, this call needs up to $0.02)")


def test_free_calls_are_always_granted(tmp_path: Path) -> None:
    ledger = open_ledger(settings(tmp_path, budget_monthly=0.0), warn=print)
    with pytest.raises(BudgetError):
        ledger.reserve(1)
    res = ledger.reserve(0)
    assert res.amount == 0
    ledger.settle(res, 0)


def test_run_cap_is_per_ledger_object(tmp_path: Path) -> None:
    s = settings(tmp_path, budget_run=0.00005, budget_monthly=0.001)
    first = open_ledger(s, warn=print)
    first.settle(first.reserve(30), 30)
    with pytest.raises(BudgetError, match=r"^budget: run cap of \$0\.00005 reached \(spent \$0\.00003,"):
        first.reserve(30)
    second = open_ledger(s, warn=print)  # a new run: its own run budget, the same month
    second.settle(second.reserve(30), 30)
    assert second.status()["month"]["spent"] == 60
    assert second.status()["run"]["spent"] == 30


@pytest.mark.hardening_local_state
def test_daily_cap_resets_the_next_utc_day(tmp_path: Path) -> None:
    clock = Clock(calendar.timegm((2026, 3, 10, 12, 0, 0)))
    ledger = open_ledger(settings(tmp_path, budget_daily=0.00005, budget_monthly=0.001), warn=print, now=clock)
    ledger.settle(ledger.reserve(30), 30)
    with pytest.raises(BudgetError, match="daily cap"):
        ledger.reserve(30)
    clock.t += DAY
    res = ledger.reserve(30)
    assert res.day == "2026-03-11"
    ledger.settle(res, 30)
    assert ledger.status()["month"]["spent"] == 60


@pytest.mark.hardening_local_state
def test_all_caps_are_checked_together(tmp_path: Path) -> None:
    ledger = open_ledger(settings(tmp_path, budget_run=1.0, budget_daily=1.0, budget_monthly=0.00005), warn=print)
    with pytest.raises(BudgetError, match="monthly cap"):
        ledger.reserve(60)


def test_negative_amounts_are_bugs(tmp_path: Path) -> None:
    ledger = MemoryLedger(Caps(), warn=print)
    with pytest.raises(ValueError):
        ledger.reserve(-1)
    res = ledger.reserve(5)
    with pytest.raises(ValueError):
        ledger.settle(res, -1)


def test_format_usd() -> None:
    assert format_usd(10_000_000) == "$10.00"
    assert format_usd(0) == "$0.00"
    assert format_usd(300) == "$0.0003"
    assert format_usd(1) == "$0.000001"
    assert format_usd(15_000) == "$0.01" or format_usd(15_000) == "$0.02"


# ---------------------------------------------------------------------------------------- periods
@pytest.mark.hardening_local_state
def test_a_reservation_settles_into_the_month_it_was_made_in(tmp_path: Path) -> None:
    clock = Clock(JAN_31_LAST_SECOND)
    ledger = open_ledger(settings(tmp_path, budget_monthly=1.0), warn=print, now=clock)
    res = ledger.reserve(500)
    assert (res.day, res.month) == ("2026-01-31", "2026-01")
    clock.t = FEB_1
    ledger.settle(res, 400)
    status = ledger.status()
    assert status["month"] == {"period": "2026-02", "spent": 0, "reserved": 0, "cap": 1_000_000}
    assert status["months"] == {"2026-01": 400}


@pytest.mark.hardening_local_state
def test_periods_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert periods(JAN_31_LAST_SECOND) == ("2026-01-31", "2026-01")
        assert periods(FEB_1) == ("2026-02-01", "2026-02")
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.mark.hardening_local_state
def test_the_clock_going_back_never_reopens_a_closed_month(tmp_path: Path) -> None:
    clock = Clock(FEB_1 + 3600)
    s = settings(tmp_path, budget_monthly=0.0001)
    ledger = open_ledger(s, warn=print, now=clock)
    ledger.settle(ledger.reserve(100), 100)  # February is spent; January was never used
    clock.t = calendar.timegm((2026, 1, 20, 12, 0, 0))
    with pytest.raises(BudgetError, match="monthly cap"):
        ledger.reserve(10)
    res = ledger.reserve(0)
    assert res.month == "2026-02"
    # Another process whose clock is behind is held to the same period.
    other = open_ledger(s, warn=print, now=Clock(calendar.timegm((2026, 1, 5, 0, 0, 0))))
    with pytest.raises(BudgetError, match="monthly cap"):
        other.reserve(10)
    assert other.status()["month"]["period"] == "2026-02"


# -------------------------------------------------------------------------------- real processes
WORKER = """
import json, random, sys, time
from pathlib import Path
from symphony_assist_hooks.assistant.ledger import open_ledger
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.errors import BudgetError

cache_dir, cap, seed = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
s = Settings(cache_dir=cache_dir, budget_monthly=cap, budget_run=None, budget_daily=None)
ledger = open_ledger(s, warn=lambda message: None)
rng = random.Random(seed)
print("ready", flush=True)
sys.stdin.readline()
spent = granted = refused = 0
for _ in range(40):
    try:
        res = ledger.reserve(7)
    except BudgetError:
        refused += 1
        continue
    granted += 1
    time.sleep(rng.random() * 0.002)  # the paid call
    actual = rng.randint(3, 7)  # never above the worst case reserved
    ledger.settle(res, actual)
    spent += actual
print(json.dumps({"spent": spent, "granted": granted, "refused": refused}), flush=True)
"""


@pytest.mark.hardening_local_state
def test_eight_processes_never_overspend_and_the_ledger_is_exact(tmp_path: Path) -> None:
    cap_micro = 1000  # 8 workers x 40 calls x 7 would be 2240
    s = settings(tmp_path, budget_monthly=usd(cap_micro))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(s.cache_dir), str(usd(cap_micro)), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(8)
    ]
    try:
        for proc in procs:  # start together, once every interpreter is up
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate(timeout=60)[0]) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert all(proc.returncode == 0 for proc in procs)
    total = sum(r["spent"] for r in results)
    assert total <= cap_micro
    assert total >= cap_micro - 7 * 8 * 2  # refusals came from the cap, not from faults
    assert sum(r["refused"] for r in results) > 0
    status = open_ledger(s, warn=print).status()
    assert status["month"]["spent"] == total
    assert status["month"]["reserved"] == 0


HOLDER = """
import sys, time
from pathlib import Path
from symphony_assist_hooks.assistant.ledger import open_ledger
from symphony_assist_hooks.config import Settings

s = Settings(cache_dir=Path(sys.argv[1]), budget_monthly=float(sys.argv[2]), budget_run=None)
open_ledger(s, warn=print).reserve(int(sys.argv[3]))
print("reserved", flush=True)
time.sleep(60)
"""


@pytest.mark.hardening_local_state
def test_a_killed_process_does_not_hold_the_budget(tmp_path: Path, warnings: Warnings) -> None:
    s = settings(tmp_path, budget_monthly=0.0001)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(s.cache_dir), "0.0001", "100"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "reserved"
        ledger = open_ledger(s, warn=warnings)
        with pytest.raises(BudgetError, match=r"\$0\.0001 reserved by calls in flight"):
            ledger.reserve(10)  # the holder is alive: its reservation stands
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ledger.settle(ledger.reserve(100), 100)  # swept: the whole cap is free again
    finally:
        proc.kill()
        proc.wait()
    assert len(warnings) == 1
    assert "released $0.0001" in warnings[0]
    assert ledger.status()["month"]["spent"] == 100


@pytest.mark.hardening_local_state
def test_a_reservation_expires(tmp_path: Path, warnings: Warnings) -> None:
    clock = Clock(calendar.timegm((2026, 5, 5, 10, 0, 0)))
    s = settings(tmp_path, budget_monthly=0.0001)
    stuck = open_ledger(s, warn=print, now=clock)
    res = stuck.reserve(100)
    other = open_ledger(s, warn=warnings, now=clock)
    with pytest.raises(BudgetError):
        other.reserve(10)
    clock.t += 3600  # longer than the reservation's lifetime
    with pytest.raises(BudgetError, match=r"spent \$0\.00, this call"):
        other.reserve(200)  # refused by the cap alone: the sweep is kept all the same
    other.settle(other.reserve(50), 50)
    assert len(warnings) == 1
    assert "released $0.0001 held by 1 unfinished call(s)" in warnings[0]
    stuck.settle(res, 30)  # a late answer is still counted
    assert other.status()["month"]["spent"] == 80


# ----------------------------------------------------------------------------------------- faults
@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    s = settings(tmp_path, budget_monthly=1.0)
    ledger = open_ledger(s, warn=print)
    for _ in range(50):
        ledger.settle(ledger.reserve(100), 60)
    assert isinstance(ledger, DiskLedger)
    ledger.close()
    return tmp_path / "cache" / "ledger"


@pytest.mark.hardening_local_state
@pytest.mark.parametrize("blocked", ["ledger", "cache", "parent"])
def test_a_file_where_a_directory_should_be_is_named_and_nothing_is_spent(tmp_path: Path, blocked: str) -> None:
    """Not "remove the directory": there is none. The file in the way is named, and how to get past it."""
    cache = tmp_path / "plain" / "cache" if blocked == "parent" else tmp_path / "cache"
    in_the_way = {"ledger": cache / "ledger", "cache": cache, "parent": cache.parent}[blocked]
    in_the_way.parent.mkdir(parents=True, exist_ok=True)
    in_the_way.write_text("x")
    ledger = open_ledger(Settings(cache_dir=cache, budget_monthly=1.0), warn=Warnings())
    with pytest.raises(BudgetError) as info:
        ledger.reserve(10)
    message = str(info.value)
    where = "" if blocked == "ledger" else f" in {cache / 'ledger'}"
    assert message == (
        f"budget ledger cannot be made{where}: {in_the_way} is a file, not a directory; no paid call was made. "
        "Point SYMPHONY_ASSIST_CACHE_DIR at a directory, or move the file"
    )
    assert in_the_way.read_text() == "x"  # nothing lost


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.hardening_local_state
def test_a_corrupted_ledger_fails_closed(tmp_path: Path, ledger_dir: Path, damage: str) -> None:
    db = ledger_dir / "ledger.db"
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        with db.open("r+b") as fh:
            fh.truncate(db.stat().st_size // 2)
    warnings = Warnings()
    ledger = open_ledger(settings(tmp_path, budget_monthly=1.0), warn=warnings)
    with pytest.raises(BudgetError) as info:
        ledger.reserve(10)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"budget ledger unreadable at {ledger_dir}: ")
    assert message.endswith("; no paid call was made. Remove the directory to reset it")
    with pytest.raises(BudgetError):
        ledger.status()
    assert warnings == []


@pytest.mark.hardening_local_state
def test_a_full_disk_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings: Warnings) -> None:
    ledger = open_ledger(settings(tmp_path, budget_monthly=1.0), warn=warnings)
    res = ledger.reserve(10)
    assert isinstance(ledger, DiskLedger)
    ledger.close()
    real_connect = sqlite3.connect

    class FullDisk:
        def __init__(self, con: sqlite3.Connection) -> None:
            self._con = con

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                raise sqlite3.OperationalError("database or disk is full")
            return self._con.execute(sql, *args)

        def close(self) -> None:
            self._con.close()

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FullDisk(real_connect(*a, **k)))
    with pytest.raises(
        BudgetError, match=r"cannot be written \(database or disk is full\); no paid call was made\. Free disk space"
    ):
        ledger.reserve(10)
    ledger.settle(res, 10)  # the call already happened: warn, never raise
    assert len(warnings) == 1
    assert "could not record $0.00001 spent" in warnings[0]


@pytest.mark.hardening_local_state
def test_a_busy_ledger_fails_closed_within_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock is held until the test releases it, so `reserve` returns only by giving up. How long it may
    wait is read from SQLite itself, not measured: each connection's busy timeout, times the write
    transactions tried (traced), is the 0.2 s configured."""
    s = settings(tmp_path, budget_monthly=1.0)
    open_ledger(s, warn=print).status()  # create it
    db = tmp_path / "cache" / "ledger" / "ledger.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    real_connect = sqlite3.connect
    busy_timeouts: list[int] = []  # ms, per connection the ledger opens
    statements: list[str] = []

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        con = real_connect(*args, **kwargs)
        (ms,) = con.execute("PRAGMA busy_timeout").fetchone()
        busy_timeouts.append(ms)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(sqlite3, "connect", connect)
    try:
        ledger = DiskLedger(db.parent, Caps(month=1_000_000), warn=print, timeout=0.2)
        with pytest.raises(BudgetError, match=r"budget ledger busy at .*more than 0\.2 s; no paid call was made"):
            ledger.reserve(10)
        assert busy_timeouts == [200]
        assert [sql for sql in statements if sql.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]  # one wait, no retry
        assert ledger.status()["month"]["spent"] == 0  # WAL: reading is never blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    ledger.reserve(10)


@pytest.mark.hardening_local_state
def test_the_ledger_directory_is_private(tmp_path: Path) -> None:
    ledger: Ledger = open_ledger(settings(tmp_path, budget_monthly=1.0), warn=print)
    ledger.status()
    assert (tmp_path / "cache" / "ledger").stat().st_mode & 0o777 == 0o700


def test_unreachable_redis_ledger_fails_closed(tmp_path: Path, warnings: Warnings) -> None:
    s = Settings(cache_dir=tmp_path, cache_backend="redis", cache_url="redis://127.0.0.1:1")
    ledger = open_ledger(s, warn=warnings)
    with pytest.raises(BudgetError, match=r"unreachable.*no paid call was made"):
        ledger.reserve(10)


def _open_and_spend(directory: str, start: float, out: Any) -> None:
    while time.time() < start:
        time.sleep(0.0005)
    try:
        ledger = open_ledger(
            Settings(cache_dir=Path(directory), budget_monthly=1.0, budget_run=None), warn=lambda _m: None
        )
        ledger.settle(ledger.reserve(10), 5)
        out.put("ok")
    except Exception as exc:
        out.put(repr(exc))


def test_many_processes_opening_a_fresh_ledger_at_once(tmp_path: Path) -> None:
    """Switching a new database to WAL returns 'locked' without waiting: opening retries it."""
    ctx = multiprocessing.get_context("fork")
    for trial in range(4):
        directory = tmp_path / f"t{trial}"
        out = ctx.Queue()
        start = time.time() + 0.3
        procs = [ctx.Process(target=_open_and_spend, args=(str(directory), start, out)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        results = [out.get(timeout=5) for _ in procs]
        assert results == ["ok"] * 8
