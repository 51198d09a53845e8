"""A real redis-server for the team-mode tests (issue #8), bound to 127.0.0.1 only.

* `redis_url`: the URL of an empty db for one test. The server is $SYMPHONY_ASSIST_TEST_REDIS_URL when
  set (.ci/run starts one), else one private `redis-server` per test process on a free port, without
  persistence, in a temporary directory, stopped at exit. The db is flushed before each test; under
  pytest-xdist each worker uses its own db (1 + worker number) so workers never flush each other's.
* `private_redis`: a server of the test's own, to stop, pause or restart mid-test (`RedisServer`).

Without the redis-server binary these fixtures fail with the install hint when $CI or the URL variable
is set (a CI run must not silently skip team mode), and skip with the same hint elsewhere.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

# Read at import (conftest imports this module before any test): the autouse home fixture removes
# every SYMPHONY_ASSIST_* variable from the tests' environment.
ENV_URL = os.environ.get("SYMPHONY_ASSIST_TEST_REDIS_URL", "").strip()
IN_CI = bool(os.environ.get("CI")) or bool(ENV_URL)
INSTALL_HINT = (
    "redis-server is not installed: the team-mode tests need a real server. "
    "Install it (apt-get install redis-server, brew install redis) or set "
    "SYMPHONY_ASSIST_TEST_REDIS_URL=redis://127.0.0.1:6379/0"
)


def _binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        if IN_CI:
            pytest.fail(INSTALL_HINT, pytrace=False)
        pytest.skip(INSTALL_HINT)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))  # -NOAUTH: up, with requirepass


class RedisServer:
    """One redis-server process on 127.0.0.1 (no persistence); `args` are extra server options."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.directory = directory
        self.args = args
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = _binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a free port may be taken between the probe and the bind
            self.port = self.port or free_port()
            log = open(self.directory / "redis.log", "ab")  # noqa: SIM115  # the child keeps it
            options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            self.proc = subprocess.Popen(
                [binary, *options, "--dir", str(self.directory), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            deadline = time.monotonic() + 20  # a start-up hang guard: a busy machine may be slow to start it
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _answers(self.port):
                    return self
                time.sleep(0.01)
            self.stop()
            self.port = 0
        raise RuntimeError(f"redis-server did not start: see {self.directory / 'redis.log'}")

    def stop(self) -> None:
        """Stop the server (it may be restarted on the same port with `start`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pause(self) -> None:
        """Freeze the server: connections are accepted by the kernel but nothing answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def url(self, db: int = 0, password: str | None = None) -> str:
        auth = f":{urllib.parse.quote(password, safe='')}@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"


_shared: list[RedisServer] = []  # the suite's private server, once started


def _base_url() -> str:
    """The suite's server: the CI one, or a private one started on first use and stopped at exit."""
    if ENV_URL:
        return ENV_URL
    if not _shared:
        server = RedisServer(Path(tempfile.mkdtemp(prefix="sa-redis-"))).start()
        atexit.register(shutil.rmtree, server.directory, True)
        atexit.register(server.stop)
        _shared.append(server)
    return _shared[0].url()


def _with_db(url: str, db: int) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture
def redis_url() -> str:
    """An empty db on a real Redis for this test."""
    import redis

    url = _base_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        url = _with_db(url, 1 + int(worker[2:]) % 15)
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server for this test alone, stopped at its end."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
