"""The memory and null caches, and export/import across backends: what `cache export` and
`cache import` do when the cache is memory-only, could not be opened, or is not one of ours."""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.assistant.cache import MemoryCache, NullCache, export_cache, import_cache, open_cache
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.errors import UsageError


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_memory_cache_refuses_values_that_are_not_json_and_says_so_once() -> None:
    warned: list[str] = []
    cache = MemoryCache(warn=warned.append)
    cache.set("nan", {"score": math.nan})
    cache.set("set", {"ids": {1, 2}})
    assert cache.get("nan") is None and cache.get("set") is None
    assert cache.info()["entries"] == 0
    assert len(warned) == 1
    assert warned[0].startswith("cache: not caching a value that is not a JSON object (")
    assert MemoryCache().restore("quiet", {"x": math.inf}, None) is False  # no warn callback: still refused


def test_memory_export_skips_expired_entries_and_imports_into_another_cache(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    cache = MemoryCache(now=clock)
    cache.set("forever", {"a": 1}, ttl=0)
    cache.set("short", {"b": 2}, ttl=10)
    cache.set("long", {"c": 3}, ttl=100)
    clock.t += 50  # "short" has expired, "long" has 50 s left
    path = tmp_path / "answers.jsonl"
    assert export_cache(cache, path) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # answers describe private code
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["key"], r["value"], r["expire_at"]) for r in rows] == [
        ("forever", {"a": 1}, None),
        ("long", {"c": 3}, 1100.0),
    ]
    other = MemoryCache(now=Clock(1000.0))
    assert import_cache(other, path) == 2
    assert other.get("long") == {"c": 3} and other.get("short") is None
    cache.close()  # nothing to release; the entries stay until the process ends
    assert cache.get("forever") == {"a": 1}


def test_a_cache_that_could_not_be_opened_exports_and_imports_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache dir should be")
    warned: list[str] = []
    cache = open_cache(Settings(cache_dir=blocker), warned.append)
    assert isinstance(cache, NullCache)
    assert warned == [f"cache: cannot use {blocker / 'responses'} (Not a directory); not caching this run"]
    path = tmp_path / "answers.jsonl"
    assert export_cache(cache, path) == 0
    assert path.read_text() == ""
    path.write_text(json.dumps({"key": "k", "value": {"v": 1}, "expire_at": None}) + "\n")
    assert import_cache(cache, path) == 0  # nothing can be stored
    assert cache.info()["reason"] == "Not a directory"
    cache.close()


class OnlyGetSet:
    """A cache of a plugin or an embedding program: get and set, nothing to list or restore."""

    backend = "custom"

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        self.data[key] = dict(value)


def test_a_cache_that_cannot_list_its_entries_cannot_export_or_import(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    with pytest.raises(UsageError, match=r"^the custom cache backend cannot export its entries$"):
        export_cache(OnlyGetSet(), path)  # type: ignore[arg-type]
    assert not path.exists()  # refused before the file is created
    path.write_text("")
    with pytest.raises(UsageError, match=r"^the custom cache backend cannot import entries$"):
        import_cache(OnlyGetSet(), path)  # type: ignore[arg-type]
