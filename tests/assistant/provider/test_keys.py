"""KeyRing: active key, persisted switch (0600, atomic), per-run failover, masking."""

from __future__ import annotations

import json
import secrets
import stat
import threading
from pathlib import Path

import pytest

from symphony_assist_hooks.assistant.provider.keys import KeyRing
from symphony_assist_hooks.config.keys import Secret
from symphony_assist_hooks.errors import SymphonyError, UsageError


def _key() -> Secret:
    return Secret("sk-test-" + secrets.token_hex(16))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "config" / "state.json"


def test_primary_is_active_by_default(state: Path) -> None:
    p, s = _key(), _key()
    ring = KeyRing(p, s, state)
    assert ring.active_alias == "primary"
    assert ring.active() == ("primary", p)
    assert ring.configured == ("primary", "secondary")


def test_only_secondary_configured_is_used(state: Path) -> None:
    s = _key()
    ring = KeyRing(None, s, state)
    assert ring.active() == ("secondary", s)


def test_no_key_configured(state: Path) -> None:
    ring = KeyRing(None, None, state)
    assert ring.active() is None
    assert ring.active_alias == "primary"
    assert ring.failover() is None


def test_switch_is_persisted_atomically_with_mode_0600(state: Path) -> None:
    p, s = _key(), _key()
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"other": 1}))
    KeyRing(p, s, state).switch("secondary")

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text()) == {"active_key": "secondary", "other": 1}  # other fields kept
    assert [f.name for f in state.parent.iterdir()] == ["state.json"]  # no temp file left behind
    assert p.reveal() not in state.read_text() and s.reveal() not in state.read_text()

    later = KeyRing(p, s, state)  # the next run
    assert later.active() == ("secondary", s)


def test_switch_creates_the_config_dir_private(tmp_path: Path) -> None:
    state = tmp_path / "fresh" / "state.json"
    KeyRing(_key(), _key(), state).switch("primary")
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


@pytest.mark.hardening_local_state
def test_persisted_choice_of_an_unconfigured_key_is_ignored(state: Path) -> None:
    p, s = _key(), _key()
    KeyRing(p, s, state).switch("secondary")
    assert KeyRing(p, None, state).active() == ("primary", p)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"active_key": "tertiary"}', ""])
@pytest.mark.hardening_local_state
def test_corrupt_state_file_falls_back_to_primary(state: Path, content: str) -> None:
    state.parent.mkdir(parents=True)
    state.write_text(content)
    p = _key()
    assert KeyRing(p, _key(), state).active() == ("primary", p)


def test_switch_to_unconfigured_key_names_the_env_var(state: Path) -> None:
    ring = KeyRing(_key(), None, state)
    with pytest.raises(UsageError, match="OPENAI_API_KEY_SECONDARY") as info:
        ring.switch("secondary")
    assert "\n" not in str(info.value)
    assert not state.exists()
    with pytest.raises(UsageError, match="OPENAI_API_KEY_PRIMARY"):
        KeyRing(None, _key(), state).switch("primary")


def test_switch_to_unknown_alias(state: Path) -> None:
    with pytest.raises(UsageError, match="primary, secondary"):
        KeyRing(_key(), _key(), state).switch("tertiary")


@pytest.mark.hardening_faults
def test_failover_is_for_this_run_only(state: Path) -> None:
    p, s = _key(), _key()
    ring = KeyRing(p, s, state)
    assert ring.failover() == ("secondary", s)
    assert ring.active() == ("secondary", s)
    assert ring.failover() is None  # both rejected now
    assert ring.active() is None
    assert not state.exists()  # nothing persisted
    assert KeyRing(p, s, state).active() == ("primary", p)  # the next run starts over


@pytest.mark.hardening_faults
def test_failover_with_one_key(state: Path) -> None:
    ring = KeyRing(_key(), None, state)
    assert ring.failover() is None
    assert ring.active() is None


@pytest.mark.hardening_faults
def test_concurrent_failovers_from_the_same_key_reject_it_once(state: Path) -> None:
    """Two requests that both got a 401 on the primary must not burn the secondary too."""
    p, s = _key(), _key()
    ring = KeyRing(p, s, state)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(ring.failover(failed="primary"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("secondary", s)] * 8
    assert ring.active() == ("secondary", s)


def test_switch_revives_a_key_rejected_in_this_run(state: Path) -> None:
    p, s = _key(), _key()
    ring = KeyRing(p, s, state)
    ring.failover()
    ring.switch("primary")
    assert ring.active() == ("primary", p)


def test_describe_masks_keys(state: Path) -> None:
    p = _key()
    ring = KeyRing(p, None, state)
    rows = ring.describe()
    assert rows == [
        {
            "alias": "primary",
            "key_hint": "sk-…" + p.reveal()[-4:],
            "configured": True,
            "active": True,
            "rejected": False,
            "env": "OPENAI_API_KEY_PRIMARY (or OPENAI_API_KEY)",
        },
        {
            "alias": "secondary",
            "key_hint": None,
            "configured": False,
            "active": False,
            "rejected": False,
            "env": "OPENAI_API_KEY_SECONDARY",
        },
    ]
    text = json.dumps(rows) + repr(ring.active())
    assert p.reveal() not in text
    assert p.reveal()[8:20] not in text


@pytest.mark.hardening_local_state
def test_unwritable_state_is_one_line_and_leaves_no_temp_file(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("os.replace", refuse)
    p, s = _key(), _key()
    ring = KeyRing(p, s, state)
    with pytest.raises(SymphonyError, match=r"cannot save the active key choice to .*state\.json: Permission denied"):
        ring.switch("secondary")
    assert list(state.parent.iterdir()) == []
    assert ring.active() == ("primary", p)  # unchanged
