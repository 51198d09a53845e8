"""KeyRing: the primary and secondary API keys, which one is active, and failover during a run.

Stdlib only. Keys come from the environment (config.Settings, as `Secret`) and never leave memory
except to the provider: nothing here logs, prints or persists a key. What is persisted is the user's
choice of alias (`switch`), in `<user config dir>/state.json`, written atomically with mode 0600.

Two levels of choice:
- the persisted choice (`switch("secondary")`) survives across runs;
- a failover (`failover()`, after a 401/403 or an exhausted quota) holds for this run only: the
  rejected key is not tried again by this KeyRing, and the next run starts from the persisted choice.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ...config.keys import Secret
from ...errors import SymphonyError, UsageError

__all__ = ["ALIASES", "ENV_VARS", "KeyRing"]

ALIASES = ("primary", "secondary")
ENV_VARS = {
    "primary": "OPENAI_API_KEY_PRIMARY (or OPENAI_API_KEY)",
    "secondary": "OPENAI_API_KEY_SECONDARY",
}
_STATE_FIELD = "active_key"


class KeyRing:
    """The configured keys and the active one. Thread-safe; one instance per run.

    `state_path` is where the persisted choice lives (`config.user_dirs()[1] / "state.json"`); other
    fields in that file are preserved when it is rewritten.
    """

    def __init__(self, primary: Secret | None, secondary: Secret | None, state_path: Path) -> None:
        self._keys: dict[str, Secret | None] = {"primary": primary, "secondary": secondary}
        self._state_path = state_path
        self._lock = threading.Lock()
        self._current: str | None = None  # this run's choice; None until first asked
        self._rejected: set[str] = set()  # aliases failed over from in this run

    # ------------------------------------------------------------------------------------- queries
    @property
    def configured(self) -> tuple[str, ...]:
        """Aliases that have a key, primary first."""
        return tuple(a for a in ALIASES if self._keys[a] is not None)

    @property
    def active_alias(self) -> str:
        """The alias in use: this run's failover target, else the persisted choice if that key is
        configured, else the first configured key ("primary" when none is)."""
        with self._lock:
            return self._current_locked()

    def active(self) -> tuple[str, Secret] | None:
        """(alias, key) to use now; None when no key is configured or every configured key was
        rejected in this run."""
        with self._lock:
            alias = self._current_locked()
            key = self._keys[alias]
            if key is None or alias in self._rejected:
                return None
            return alias, key

    def describe(self) -> list[dict[str, Any]]:
        """One row per alias: alias, key_hint (masked, e.g. "sk-…abcd", or None), configured, active,
        rejected (in this run) and env (where to set it). Never the key itself."""
        with self._lock:
            current = self._current_locked()
            return [
                {
                    "alias": alias,
                    "key_hint": key.masked() if key is not None else None,
                    "configured": key is not None,
                    "active": alias == current and key is not None,
                    "rejected": alias in self._rejected,
                    "env": ENV_VARS[alias],
                }
                for alias, key in self._keys.items()
            ]

    # ------------------------------------------------------------------------------------- changes
    def failover(self, failed: str | None = None) -> tuple[str, Secret] | None:
        """Mark the active key rejected for this run and move to the other configured key.

        Returns the new (alias, key), or None when no usable key is left. Not persisted. Pass the alias
        that was rejected as `failed`: when another thread already moved away from it, this returns the
        current key without rejecting it too (two requests failing on the same key fail over once).
        """
        with self._lock:
            current = self._current_locked()
            self._rejected.add(current if failed is None else failed)
            configured = self.configured
            for alias in (current, *(a for a in configured if a != current)):
                if alias in configured and alias not in self._rejected:
                    self._current = alias
                    key = self._keys[alias]
                    assert key is not None
                    return alias, key
            return None

    def switch(self, alias: str) -> None:
        """Make `alias` the active key, now and in later runs (persisted to state.json, 0600).

        Raises UsageError for an unknown alias or one whose key is not configured, SymphonyError when
        the state file cannot be written. A key rejected earlier in this run becomes usable again: the
        user asked for it explicitly.
        """
        if alias not in ALIASES:
            raise UsageError(f"unknown key {alias!r}: expected one of {', '.join(ALIASES)}")
        if self._keys[alias] is None:
            raise UsageError(f"the {alias} key is not configured: set {ENV_VARS[alias]}")
        with self._lock:
            state = self._read_state()
            state[_STATE_FIELD] = alias
            try:
                _write_private_json(self._state_path, state)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise SymphonyError(f"cannot save the active key choice to {self._state_path}: {reason}") from None
            self._current = alias
            self._rejected.discard(alias)

    # ------------------------------------------------------------------------------------- private
    def _current_locked(self) -> str:
        if self._current is None:
            persisted = self._read_state().get(_STATE_FIELD)
            if persisted in ALIASES and self._keys[persisted] is not None:
                self._current = str(persisted)
            else:
                self._current = (self.configured or ALIASES)[0]
        return self._current

    def _read_state(self) -> dict[str, Any]:
        """The state file's fields; {} when it is missing or unreadable (a corrupt file is not fatal:
        the next switch rewrites it)."""
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically (temp file + rename in the same directory), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
