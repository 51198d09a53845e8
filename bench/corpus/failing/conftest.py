"""Fixtures and a tiny stand-in for pytest-timeout's signal method (same failure text: "Timeout >Ns")."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test when it runs longer")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    if marker is None:
        yield
        return
    seconds = float(marker.args[0])

    def on_alarm(signum: int, frame: object) -> None:
        pytest.fail(f"Timeout >{seconds}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Session:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []


@pytest.fixture
def db_session() -> Session:
    return Session()


@pytest.fixture
def database() -> Session:
    import socket

    sock = socket.create_connection(("127.0.0.1", 1), timeout=1)
    sock.close()
    return Session()


@pytest.fixture
def migrated_db(db_session: Session) -> Session:
    pending = ["0007_add_coupons", "0008_backfill_totals"]
    if pending:
        raise RuntimeError(f"migrations pending: {', '.join(pending)}")
    return db_session


@pytest.fixture
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("uploads")
    yield str(path)
    leftovers = ["report.csv"]
    if leftovers:
        raise AssertionError(f"upload_dir not cleaned up: {leftovers}")
