"""bench/coverage.py --quick meets its targets (the same gate CI can run as a script)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "coverage.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load()


@pytest.mark.slow
def test_quick_run_meets_every_target(bench: ModuleType) -> None:
    result = bench.measure(quick=True)
    assert result["failing"]["cases"] >= 40
    assert result["risky"]["cases"] >= 30
    assert result["clean"]["cases"] >= 10
    for key, target in bench.TARGETS.items():
        assert result[key]["share"] >= target, bench.markdown(result)
    assert result["passed"]


def test_fake_secrets_are_random_and_not_committed(bench: ModuleType) -> None:
    a, b = bench.fake_secret("aws", random.Random(1)), bench.fake_secret("aws", random.Random(2))
    assert a != b and len(a) == 20
    corpus = Path(bench.CORPUS)
    for path in corpus.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "AKIA" not in text and "ghp_" not in text and "BEGIN RSA" not in text, path
