import queue
import threading

import pytest
from shop.jobs import next_job, wait_until_ready
from shop.tree import Category, depth


@pytest.mark.timeout(0.3)
def test_worker_becomes_ready():
    ready = threading.Event()
    wait_until_ready(ready)
    assert ready.is_set()


@pytest.mark.timeout(0.3)
def test_next_job_returns_first():
    jobs: queue.Queue[str] = queue.Queue()
    assert next_job(jobs) == "resize"


def test_depth_of_cyclic_category():
    books = Category("books")
    books.parent = books
    assert depth(books) == 0


def test_export_not_ready():
    raise NotImplementedError("CSV export for refunds")
