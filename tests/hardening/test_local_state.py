"""Local state faults (docs/reference.md#local-state): the cache, the ledger, the disk, the clock and other processes.

The promises under test: a cache fault costs at most a paid call and never fails a run; a ledger that
cannot prove the spend is under the cap allows no paid call (fail closed) but never blocks a commit
(fail open, one reason line); a killed process leaves state the next run repairs; parallel hooks and
an xdist session sharing one cache dir and ledger never raise and never overspend.

Disk full and a read-only cache dir use a real tmpfs (`mount -t tmpfs -o size=…`; we run as root in
CI, where chmod does not stop root). Where mounting is not permitted the disk-full rows fall back to a
simulated SQLite "database or disk is full", and the read-only row is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from hardening.support import Books, HookEnv
from responders import answering, finding

from symphony_assist_hooks.assistant import Assistant
from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
from symphony_assist_hooks.assistant.ledger.rules import Caps
from symphony_assist_hooks.assistant.request import Item, Request
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.errors import BudgetError

pytestmark = pytest.mark.hardening_local_state

SOURCE = "def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n"
OTHER = "def mean(values):\n    if not values:\n        return 0.0\n    return sum(values) / len(values)\n"


@dataclass
class Run:
    code: int
    doc: dict[str, Any]
    err: str

    @property
    def reason(self) -> str | None:
        return self.doc["summary"]["fallback_reason"]

    @property
    def sources(self) -> set[str]:
        return {f["source"] for f in self.doc["findings"]}


def review(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    capsys.readouterr()
    code = main(["review", "--format", "json", "--fail-on", "never", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return Run(code, json.loads(captured.out), captured.err)


def _flag_line_2(item_id: str, label: str, content: str) -> list[dict[str, Any]]:
    return [finding(2, rule="scripted", severity="medium")]


@pytest.fixture
def online(fake_openai: FakeOpenAI, hook_env: HookEnv, git_repo: GitRepo) -> FakeOpenAI:
    hook_env.point(fake_openai.url)
    git_repo.commit_files({"README.md": "seed\n"})
    git_repo.write("calc.py", SOURCE)
    git_repo.add("calc.py")
    fake_openai.responder = answering(findings=_flag_line_2)
    return fake_openai


def _stage_another(repo: GitRepo) -> None:
    repo.write("stats.py", OTHER)
    repo.add("stats.py")


# --------------------------------------------------------------------------------- corrupted files
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupted_cache_is_moved_aside_and_the_review_goes_on(
    online: FakeOpenAI, hook_env: HookEnv, books: Books, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    assert review(capsys).sources == {"api"}
    db = hook_env.cache_dir / "responses" / "cache.db"
    data = db.read_bytes()
    db.write_bytes({"garbage": os.urandom(4096), "truncated": data[: len(data) // 2], "empty": b""}[damage])
    run = review(capsys)
    assert run.code == 0
    assert run.reason is None
    assert run.sources == {"api"}  # answered again: a cache fault costs one paid call, nothing more
    if damage != "empty":  # an empty file is a valid empty SQLite database: just a miss
        assert [ln for ln in run.err.splitlines() if "corrupted" in ln] != []
        assert list((hook_env.cache_dir).glob("responses.corrupt-*"))
    assert review(capsys).sources == {"cache"}  # the fresh cache works
    books.assert_settled()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "directory"])
def test_a_corrupted_ledger_fails_closed_and_the_commit_passes(
    online: FakeOpenAI, hook_env: HookEnv, books: Books, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    assert review(capsys).sources == {"api"}
    db = hook_env.cache_dir / "ledger" / "ledger.db"
    with contextlib.closing(sqlite3.connect(db)) as con:  # everything into the main file, WAL emptied
        assert con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    for extra in db.parent.glob("ledger.db-*"):
        extra.unlink()
    data = db.read_bytes()
    db.unlink()
    if damage == "directory":
        db.mkdir()
    else:
        db.write_bytes(os.urandom(8192) if damage == "garbage" else data[: len(data) // 2])
    _stage_another(GitRepo(Path.cwd(), init=False))
    sent = len(online.chat_requests)
    run = review(capsys)
    assert run.code == 0
    assert run.reason is not None and run.reason.startswith("budget ledger unreadable"), run.reason
    assert len(online.chat_requests) == sent  # no paid call without a readable ledger
    assert [ln for ln in run.err.splitlines() if "budget ledger unreadable" in ln] != []
    assert review(capsys, "--fail-closed").code == 5
    assert {e.get("reason") for e in books.events() if e["source"] == "local"} == {run.reason}


def test_a_torn_stats_line_is_skipped(
    online: FakeOpenAI, hook_env: HookEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    assert review(capsys).sources == {"api"}
    with (hook_env.cache_dir / "stats.jsonl").open("ab") as fh:
        fh.write(b'{"ts": 1, "source": "requ')  # a crash in the middle of an append
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"]["requests"] == 1
    assert doc["budget"]["month"]["reserved"] == 0


# ------------------------------------------------------------------------------------ a small disk
@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A real tmpfs at `path` (True), or nothing when mounting is not permitted (False)."""
    path.mkdir(parents=True, exist_ok=True)
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        yield False
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(directory: Path) -> None:
    """Use every free byte of the file system holding `directory`."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0


class _FullConnection(sqlite3.Connection):
    """SQLite on a full disk, simulated: reads work, anything that writes fails as SQLite fails."""

    WRITES = ("insert", "update", "delete", "replace", "create", "pragma user_version =")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.lstrip().lower().startswith(self.WRITES):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


@pytest.fixture
def full_disk(hook_env: HookEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The cache dir on a small tmpfs; `fill()` it, or simulate a full disk when mounting is refused."""
    with _tmpfs(hook_env.cache_dir, "2m") as mounted:
        yield "tmpfs" if mounted else "simulated"


def _make_full(hook_env: HookEnv, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if kind == "tmpfs":
        _fill(hook_env.cache_dir)
        return
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **{**k, "factory": _FullConnection}))


def test_a_full_disk_before_the_first_run_sends_nothing_and_passes(
    online: FakeOpenAI,
    hook_env: HookEnv,
    full_disk: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _make_full(hook_env, full_disk, monkeypatch)
    run = review(capsys)
    assert run.code == 0
    assert run.reason is not None and "budget ledger" in run.reason, run.reason
    assert online.chat_requests == []  # the spend could not be recorded: no paid call
    assert run.doc["summary"]["local_answers"] == 1


def test_a_disk_that_fills_up_allows_no_paid_call(
    online: FakeOpenAI,
    hook_env: HookEnv,
    git_repo: GitRepo,
    full_disk: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert review(capsys).sources == {"api"}
    _make_full(hook_env, full_disk, monkeypatch)
    _stage_another(git_repo)
    sent = len(online.chat_requests)
    run = review(capsys)
    assert run.code == 0
    assert len(online.chat_requests) == sent  # the ledger cannot record a spend: no call
    assert run.reason is not None and "budget ledger" in run.reason
    assert review(capsys, "--fail-closed").code == 5


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_cached_answers_are_still_served_when_the_cache_dir_cannot_be_written(
    online: FakeOpenAI, hook_env: HookEnv, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    with _tmpfs(hook_env.cache_dir, "2m") as mounted:
        if not mounted:
            pytest.skip("needs a real tmpfs (root on Linux): a simulated fault does not reach SQLite's files")
        assert review(capsys).sources == {"api"}
        if fault == "full":
            _fill(hook_env.cache_dir)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(hook_env.cache_dir)], check=True)
        try:
            hit = review(capsys)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(hook_env.cache_dir)], capture_output=True)
        assert hit.sources == {"cache"}, hit.err


def test_a_full_cache_disk_only_costs_calls(
    online: FakeOpenAI, hook_env: HookEnv, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    """The answers' disk is full but the ledger's is not: the review is answered, nothing is cached,
    one warning, the next run pays again."""
    responses = hook_env.cache_dir / "responses"
    with _tmpfs(responses, "1m") as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs mount (root on Linux) for the cache directory alone")
        _fill(responses)
        first = review(capsys)
        assert first.sources == {"api"}
        assert len([ln for ln in first.err.splitlines() if "cache" in ln]) == 1, first.err
        assert review(capsys).sources == {"api"}  # not cached: asked again
    assert len(online.chat_requests) == 2
    books.assert_settled()


def test_a_read_only_cache_dir_pays_for_nothing_and_passes(
    online: FakeOpenAI, hook_env: HookEnv, git_repo: GitRepo, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs(hook_env.cache_dir, "8m") as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs mount (root on Linux) to make a directory read-only for root")
        assert review(capsys).sources == {"api"}
        spent = books.assert_settled()
        subprocess.run(["mount", "-o", "remount,ro", str(hook_env.cache_dir)], check=True)
        try:
            _stage_another(git_repo)
            sent = len(online.chat_requests)
            run = review(capsys)
            assert run.code == 0
            assert len(online.chat_requests) == sent
            assert run.reason is not None and "budget ledger" in run.reason
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(hook_env.cache_dir)], capture_output=True)
        assert books.assert_settled() == spent


# ------------------------------------------------------------------------------- killed processes
def _child_env(hook_env: HookEnv) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# A hang guard, not a speed claim: a machine busy with other work may take minutes, a deadlock never ends.
HANG_GUARD = 900.0


def _wait_for(condition: Any, timeout: float = HANG_GUARD) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_a_hook_killed_during_its_call_does_not_hold_the_budget(
    online: FakeOpenAI, hook_env: HookEnv, git_repo: GitRepo, books: Books, capsys: pytest.CaptureFixture[str]
) -> None:
    online.delay(30, times=1)
    child = subprocess.Popen(
        [sys.executable, "-m", "symphony_assist_hooks", "review", "--format", "json"],
        cwd=git_repo.path,
        env=_child_env(hook_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: online.chat_requests)  # the child reserved, and is waiting for its answer
        held = books.status()["month"]["reserved"]
        assert held > 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    run = review(capsys)  # the same hunk, in a new process
    assert run.sources == {"api"}
    assert [ln for ln in run.err.splitlines() if "unfinished call" in ln] != []
    books.assert_settled()  # the dead reservation is gone; only this run's call is spent


_WRITER = """
import os, sys
from pathlib import Path
from symphony_assist_hooks.assistant.cache import DiskCache
cache = DiskCache(Path(sys.argv[1]), size_limit=64 << 20, ttl=0, warn=lambda m: None)
blob = {"data": "x" * 200_000}
cache.set("first", {"data": "kept"}, ttl=0)
print("ready", flush=True)
i = 0
while True:
    i += 1
    cache.set(f"k{i % 50}", {**blob, "i": i}, ttl=0)
"""


def test_a_cache_writer_killed_mid_write_leaves_a_consistent_cache(tmp_path: Path, hook_env: HookEnv) -> None:
    directory = tmp_path / "responses"
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(directory)], stdout=subprocess.PIPE, env=_child_env(hook_env)
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(0.25)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    with sqlite3.connect(directory / "cache.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    from symphony_assist_hooks.assistant.cache.disk import DiskCache

    warnings: list[str] = []
    cache = DiskCache(directory, size_limit=64 << 20, ttl=0, warn=warnings.append)
    try:
        assert cache.get("first") == {"data": "kept"}
        for key in (f"k{i}" for i in range(50)):
            value = cache.get(key)
            assert value is None or len(value["data"]) == 200_000  # whole or absent, never torn
        cache.set("after", {"ok": True})
        assert cache.get("after") == {"ok": True}
    finally:
        cache.close()
    assert warnings == []


# ------------------------------------------------------------------------------ parallel processes
_PROJECT_TESTS = """
def test_sum():
    assert sum([1, 2]) == 4

def test_upper():
    assert "a".upper() == "b"

def test_len():
    assert len("abc") == 4
"""


def test_parallel_hooks_and_an_xdist_session_never_overspend(
    fake_openai: FakeOpenAI, hook_env: HookEnv, books: Books, tmp_path: Path
) -> None:
    """Two hook processes (each its own repository, so each needs a paid call) and a pytest -n 2
    --assist session start together on one cache dir and ledger. The monthly cap fits one worst-case
    reservation, not two, and the service holds the first call it gets until every other process has
    finished: the others must be refused by the ledger (no call, no exception, exit 0)."""
    hook_env.point(fake_openai.url)
    release = threading.Event()
    respond = answering(findings=_flag_line_2)

    def held(body: dict[str, Any]) -> Any:
        release.wait(HANG_GUARD)
        return respond(body)

    fake_openai.responder = held
    cap = 0.006  # one reservation is about $0.005 (2 x 4,000 completion tokens of gpt-4o-mini)
    # The held call lasts until every other process has finished, however busy the machine: no request
    # timeout or run deadline may end it first (the fixture's 2 s / 10 s would, under load, release its
    # reservation and let a later process through: the test would then see one refusal, not two).
    hook_env.set(
        BUDGET_MONTHLY=str(cap), BUDGET_RUN="", MAX_TOKENS="4000", TIMEOUT="600", DEADLINE="900", HOOK_DEADLINE="900"
    )
    env = _child_env(hook_env)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    for i in range(2):
        repo = GitRepo(tmp_path / f"repo{i}")
        repo.commit_files({"README.md": "seed\n"})
        repo.write("calc.py", SOURCE.replace("total", f"total_{i}"))
        repo.add("calc.py")
        cmd = [sys.executable, "-m", "symphony_assist_hooks", "review", "--format", "json", "--fail-on", "never"]
        procs.append(
            (f"hook{i}", subprocess.Popen(cmd, cwd=repo.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        )
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_project.py").write_text(_PROJECT_TESTS)
    xdist_env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "SYMPHONY_ASSIST_MAX_TOKENS": "1000"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-p", "symphony_assist_hooks.pytest_plugin", "-n", "2",
           "--assist", "-p", "no:cacheprovider", "test_project.py"]  # fmt: skip
    procs.append(
        ("xdist", subprocess.Popen(cmd, cwd=project, env=xdist_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    )
    try:
        # Release the held call once every process but the one waiting for it has finished.
        _wait_for(lambda: sum(p.poll() is None for _, p in procs) <= len(fake_openai.chat_requests), HANG_GUARD)
    finally:
        release.set()
    results = {name: (p.wait(HANG_GUARD), *p.communicate()) for name, p in procs}
    for name, (code, out, err) in results.items():
        text = (out + err).decode("utf-8", "replace")
        assert "Traceback" not in text and "INTERNALERROR" not in text, (name, text)
        assert code == (1 if name == "xdist" else 0), (name, text)  # pytest: its 3 tests fail, as they should
    spent = books.assert_settled()  # nothing reserved, ledger == stats
    assert 0 < spent <= round(cap * 1_000_000)
    refused = {e["run"] for e in books.events() if e["source"] == "local" and str(e.get("reason")).startswith("budget")}
    assert len(refused) >= 2  # both processes that did not get the first call were refused, and said so


# -------------------------------------------------------------------------------- clock and periods
class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


JAN_31_LAST_SECOND = 1_738_367_999.5  # 2025-01-31T23:59:59.5Z


def _assistant(hook_env: HookEnv, clock: Clock, **settings: Any) -> tuple[Assistant, DiskLedger]:
    s = load_settings({"offline": None, **settings})
    ledger = DiskLedger(hook_env.cache_dir / "ledger", Caps.from_settings(s), warn=lambda _: None, now=clock)
    return Assistant(s, ledger=ledger), ledger


def test_a_call_that_crosses_midnight_at_the_end_of_the_month_is_charged_to_its_month(
    fake_openai: FakeOpenAI, hook_env: HookEnv
) -> None:
    hook_env.point(fake_openai.url)
    clock = Clock(JAN_31_LAST_SECOND)

    def answer_after_midnight(body: dict[str, Any]) -> Any:
        clock.now += 2.0  # the answer arrives on February 1st
        return answering()(body)

    fake_openai.responder = answer_after_midnight
    assistant, ledger = _assistant(hook_env, clock, budget_monthly=1.0)
    try:
        resp = assistant.ask(Request("answer", ("general",), (Item("q1", "what is a mutex?"),)))
        assert resp.fallback_reason is None
        status = ledger.status()
    finally:
        assistant.close()
        ledger.close()
    assert status["month"]["period"] == "2025-02"
    assert status["month"]["spent"] == 0  # February owes nothing
    assert status["months"] == {"2025-01": resp.cost_micro}
    assert status["day"]["reserved"] == status["month"]["reserved"] == 0


def test_a_clock_set_back_cannot_reopen_a_spent_month(fake_openai: FakeOpenAI, hook_env: HookEnv) -> None:
    hook_env.point(fake_openai.url)
    fake_openai.responder = answering()
    clock = Clock(JAN_31_LAST_SECOND + 3600)  # February 1st
    assistant, ledger = _assistant(hook_env, clock)
    try:
        assert assistant.ask(Request("answer", ("general",), (Item("q1", "one?"),))).fallback_reason is None
        spent = ledger.status()["month"]["spent"]
    finally:
        assistant.close()
        ledger.close()
    assert spent > 0
    # Another process, whose clock says it is still January (NTP step, a resumed VM), with a cap that
    # February's spend has reached: January's budget must not open again.
    behind = Clock(JAN_31_LAST_SECOND - 86_400)
    assistant, ledger = _assistant(hook_env, behind, budget_monthly=spent / 1_000_000)
    try:
        with pytest.raises(BudgetError, match="monthly cap"):
            ledger.reserve(1)
        second = assistant.ask(Request("answer", ("general",), (Item("q2", "two?"),)))
        assert second.fallback_reason is not None and second.fallback_reason.startswith("budget: monthly cap")
        assert ledger.status()["month"]["period"] == "2025-02"
    finally:
        assistant.close()
        ledger.close()
    assert len(fake_openai.chat_requests) == 1


def test_the_daily_cap_resets_at_utc_midnight_but_the_month_keeps_counting(hook_env: HookEnv) -> None:
    clock = Clock(JAN_31_LAST_SECOND - 86_400 * 2)  # January 29th, late
    ledger = DiskLedger(hook_env.cache_dir / "ledger", Caps(day=1000, month=2500), warn=lambda _: None, now=clock)
    try:
        ledger.settle(ledger.reserve(900), 900)
        with pytest.raises(BudgetError, match="daily cap"):
            ledger.reserve(200)
        clock.now += 1.0  # January 30th
        ledger.settle(ledger.reserve(900), 900)
        clock.now += 86_400.0  # January 31st
        with pytest.raises(BudgetError, match="monthly cap"):
            ledger.reserve(800)
        ledger.settle(ledger.reserve(700), 700)
        status = ledger.status()
    finally:
        ledger.close()
    assert status["month"]["spent"] == 2500
    assert status["day"]["spent"] == 700
