from __future__ import annotations

import queue
import threading
import time


def wait_until_ready(flag: threading.Event, poll: float = 0.01) -> None:
    while not flag.is_set():
        time.sleep(poll)


def next_job(jobs: queue.Queue[str]) -> str:
    return jobs.get()


def pick_winner(entrants: list[str], rng: object) -> str:
    return rng.choice(entrants)  # type: ignore[attr-defined, no-any-return]


def slow_checksum(data: bytes) -> int:
    time.sleep(0.02)
    return sum(data) % 255
