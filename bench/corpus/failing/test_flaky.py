import random
import time

from shop.jobs import pick_winner, slow_checksum
from shop.registry import REGISTRY, register


def test_register_plugin():
    register("csv")
    assert "csv" in REGISTRY


def test_registry_starts_empty():
    assert len(REGISTRY) == 0


def test_checksum_is_fast():
    start = time.perf_counter()
    slow_checksum(b"abc")
    elapsed = time.perf_counter() - start
    assert elapsed < 0.01


def test_raffle_winner():
    entrants = [f"user{i}" for i in range(1000)]
    winner = pick_winner(entrants, rng=random.Random())
    assert winner == "user0"
