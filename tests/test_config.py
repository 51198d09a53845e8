from __future__ import annotations

from pathlib import Path

import pytest

from symphony_assist_hooks.config import Secret, load_settings, mask_key
from symphony_assist_hooks.errors import ConfigError


def _pyproject(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.symphony-assist]\n{body}\n", encoding="utf-8")
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=tmp_path)
    assert s.model_primary == "gpt-4o-mini"
    assert s.model_fallback == "gpt-4o"
    assert s.cache_ttl == 86400
    assert s.cache_backend == "disk"
    assert s.budget_monthly == 10.0
    assert s.budget_daily is None
    assert s.budget_run == 0.50
    assert s.timeout == 30.0
    assert s.offline is False
    assert s.sources["model_primary"] == "default"


def test_precedence_cli_over_env_over_pyproject(tmp_path: Path) -> None:
    root = _pyproject(tmp_path, 'budget_monthly = 3\nmodel_primary = "from-pyproject"\ntimeout = 5')
    env = {"SYMPHONY_ASSIST_BUDGET_MONTHLY": "4", "LLM_MODEL_PRIMARY": "from-env"}
    s = load_settings({"model_primary": "from-cli"}, env=env, cwd=root)
    assert s.model_primary == "from-cli"
    assert s.sources["model_primary"] == "command line"
    assert s.budget_monthly == 4.0
    assert s.sources["budget_monthly"] == "SYMPHONY_ASSIST_BUDGET_MONTHLY"
    assert s.timeout == 5.0
    assert "pyproject.toml" in s.sources["timeout"]


def test_pyproject_found_from_subdirectory(tmp_path: Path) -> None:
    root = _pyproject(tmp_path, "cache_ttl = 60")
    sub = root / "a" / "b"
    sub.mkdir(parents=True)
    assert load_settings(env={}, cwd=sub).cache_ttl == 60


def test_api_keys_only_from_environment(tmp_path: Path) -> None:
    primary = "sk-test-" + "a1b2" * 6
    s = load_settings(env={"OPENAI_API_KEY": primary}, cwd=tmp_path)
    assert s.api_key_primary == Secret(primary)
    assert s.sources["api_key_primary"] == "OPENAI_API_KEY"
    s2 = load_settings(env={"OPENAI_API_KEY": "x" * 20, "OPENAI_API_KEY_PRIMARY": primary}, cwd=tmp_path)
    assert s2.api_key_primary is not None and s2.api_key_primary.reveal() == primary
    with pytest.raises(ConfigError, match="api_key_primary"):
        load_settings(env={}, cwd=_pyproject(tmp_path, 'api_key_primary = "nope"'))


@pytest.mark.parametrize(
    ("var", "value", "allowed"),
    [
        ("SYMPHONY_ASSIST_TIMEOUT", "soon", "a number"),
        ("SYMPHONY_ASSIST_TIMEOUT", "-1", ">= 0.1"),
        ("LLM_CACHE_TTL", "1.5", "an integer"),
        ("LLM_CACHE_BACKEND", "s3", "one of disk, memory, redis"),
        ("SYMPHONY_ASSIST_OFFLINE", "maybe", "true/false"),
        ("OPENAI_BASE_URL", "ftp://x", "http"),
        ("SYMPHONY_ASSIST_BUDGET_MONTHLY", "nan", "a number"),
        ("SYMPHONY_ASSIST_RESPONSE_FORMAT", "xml", "one of auto, json_schema, json_object, text"),
    ],
)
def test_bad_env_value_names_value_source_and_allowed(tmp_path: Path, var: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={var: value}, cwd=tmp_path)
    msg = str(exc.value)
    assert repr(value) in msg
    assert var in msg
    assert allowed in msg
    assert "\n" not in msg
    assert exc.value.exit_code == 2


def test_bad_pyproject_value_and_unknown_key(tmp_path: Path) -> None:
    root = _pyproject(tmp_path, 'budget_run = "lots"')
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.symphony-assist\] budget_run"):
        load_settings(env={}, cwd=root)
    root2 = tmp_path / "two"
    root2.mkdir()
    _pyproject(root2, "budgett_run = 1")
    with pytest.raises(ConfigError, match="budgett_run"):
        load_settings(env={}, cwd=root2)


def test_budget_caps_can_be_disabled(tmp_path: Path) -> None:
    s = load_settings(env={"SYMPHONY_ASSIST_BUDGET_DAILY": "2.5", "SYMPHONY_ASSIST_BUDGET_RUN": ""}, cwd=tmp_path)
    assert s.budget_daily == 2.5
    assert s.budget_run is None


def test_prices_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.symphony-assist.prices]\n"llama3" = {input = 0.1, output = 0.2}\n', encoding="utf-8"
    )
    s = load_settings(env={}, cwd=tmp_path)
    assert s.prices["llama3"] == {"input": 0.1, "output": 0.2, "cached": 0.1}


def test_redis_backend_needs_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LLM_CACHE_URL"):
        load_settings(env={"LLM_CACHE_BACKEND": "redis"}, cwd=tmp_path)


def test_secret_never_shown() -> None:
    key = "sk-proj-" + "Zx9" * 10 + "wxyz"
    s = Secret(key)
    assert str(s) == "sk-…wxyz" == mask_key(key)
    assert key not in repr(s)
    assert key not in str(load_settings(env={"OPENAI_API_KEY": key}).public())


def test_urls_with_passwords_are_masked_when_shown(tmp_path: Path) -> None:
    password = "pw" + "x9" * 8
    s = load_settings(
        env={"LLM_CACHE_BACKEND": "redis", "LLM_CACHE_URL": f"redis://team:{password}@h:6379/0"}, cwd=tmp_path
    )
    assert s.cache_url is not None and password in s.cache_url  # the client needs it
    assert password not in str(s.public())
    assert s.public()["cache_url"] == "redis://team:***@h:6379/0"
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"OPENAI_BASE_URL": f"ftp://u:{password}@h/"}, cwd=tmp_path)
    assert password not in str(exc.value)


@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-elsewhere", "relative/ignored"])
def test_user_dirs_match_platformdirs(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    import platformdirs

    from symphony_assist_hooks.config import user_dirs

    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        if xdg is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, xdg)
    cache, config = user_dirs()
    assert str(cache) == platformdirs.user_cache_dir("symphony-assist", appauthor=False)
    assert str(config) == platformdirs.user_config_dir("symphony-assist", appauthor=False)


def test_broken_toml_of_ours_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.symphony-assist]\ntimeout = "\n')
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):
        load_settings(env={}, cwd=tmp_path)
