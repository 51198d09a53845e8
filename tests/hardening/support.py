"""What the hardening cases share: the environment of a hook run, and the books it leaves behind.

* `HookEnv` — two fake keys, a private cache dir, short timeouts and deadline, pointed at a server with
  `point(url)` (the `hook_env` fixture in conftest.py builds one);
* `Books` — reads back the ledger and the stats log of that cache dir, to check that a run settled every
  reservation and that spend equals the usage the service reported.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
from symphony_assist_hooks.assistant.ledger.rules import Caps
from symphony_assist_hooks.assistant.pricing import cost_micro, price_for

__all__ = ["Books", "HookEnv", "fake_key"]


def fake_key() -> str:
    """A key-shaped value generated at run time (docs/reference.md: no literal token in the source)."""
    return "sk-test-" + secrets.token_hex(16)


@dataclass
class HookEnv:
    """The environment of one hook run. Keys are kept here so a test can tell which one was used."""

    cache_dir: Path
    monkeypatch: pytest.MonkeyPatch
    keys: dict[str, str] = field(default_factory=dict)

    def point(self, base_url: str) -> None:
        self.monkeypatch.setenv("OPENAI_BASE_URL", base_url)

    def set(self, **values: str) -> None:
        """`set(TIMEOUT="1")` sets SYMPHONY_ASSIST_TIMEOUT; names with a known prefix are taken as they are."""
        for name, value in values.items():
            var = name if name.startswith(("OPENAI_", "LLM_", "GITHUB_")) else "SYMPHONY_ASSIST_" + name
            self.monkeypatch.setenv(var, value)

    def single_key(self) -> None:
        self.monkeypatch.delenv("OPENAI_API_KEY_SECONDARY", raising=False)
        self.keys.pop("secondary", None)


@dataclass
class Books:
    """The ledger and the stats log of one cache dir, as a later `symphony-assist stats` sees them."""

    cache_dir: Path

    def events(self) -> list[dict[str, Any]]:
        path = self.cache_dir / "stats.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def status(self) -> dict[str, Any]:
        ledger = DiskLedger(self.cache_dir / "ledger", Caps(), warn=lambda _: None)
        try:
            return ledger.status()
        finally:
            ledger.close()

    def sources(self) -> list[str]:
        return [e["source"] for e in self.events()]

    def reasons(self) -> set[str]:
        return {str(e.get("reason")) for e in self.events() if e["source"] == "local"}

    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["source"] == "request"]

    def assert_settled(self, *, billed: list[tuple[str, int, int]] | None = None) -> int:
        """Nothing is left reserved; the ledger's spend equals the stats log's, and equals `billed`
        ((model, prompt tokens, completion tokens) the service reported) when given. Returns the spend."""
        status = self.status()
        assert status["day"]["reserved"] == 0, status
        assert status["month"]["reserved"] == 0, status
        spent = status["month"]["spent"]
        assert status["day"]["spent"] == spent
        logged = sum(int(e.get("cost_micro", 0)) for e in self.requests())
        assert spent == logged, (spent, self.requests())
        if billed is not None:
            expected = sum(cost_micro(price_for(model, {}), p, c, 0) for model, p, c in billed)
            assert spent == expected, (spent, expected)
        return int(spent)
