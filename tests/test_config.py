from __future__ import annotations

import re
from pathlib import Path

import pytest

from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.config.keys import Secret, mask_key
from symphony_assist_hooks.config.specs import SPECS
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
        ("SYMPHONY_ASSIST_BUDGET_MONTHLY", "nan", "an amount in USD"),
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


_NUMERIC_ENV = [
    (spec.name, spec.env[0])
    for spec in SPECS
    if spec.parse.__qualname__.startswith("_number.") or spec.parse.__name__ == "_usd_cap"
]


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e309", "1e400", "nan", "-1", "9" * 30])
@pytest.mark.parametrize(("name", "var"), _NUMERIC_ENV)
def test_non_finite_and_out_of_range_numbers_are_one_config_error(
    tmp_path: Path, name: str, var: str, value: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={var: value}, cwd=tmp_path)
    msg = str(exc.value)
    assert f"invalid value {value!r} for {name} (from {var}): expected " in msg
    assert "\n" not in msg
    assert exc.value.exit_code == 2


def test_every_numeric_setting_is_checked() -> None:
    names = {n for n, _ in _NUMERIC_ENV}
    assert names >= {"budget_daily", "budget_monthly", "budget_run", "cache_ttl", "cache_size_limit", "timeout"}
    assert names >= {"deadline", "temperature", "max_tokens", "max_request_tokens", "concurrency", "context_lines"}
    assert "max_file_bytes" in names


@pytest.mark.parametrize("toml", ["budget_daily = inf", "budget_monthly = nan", "cache_ttl = 9223372036854775807"])
def test_non_finite_pyproject_numbers_name_the_key(tmp_path: Path, toml: str) -> None:
    with pytest.raises(ConfigError, match=r"pyproject\.toml \[tool\.symphony-assist\] \w+\): expected "):
        load_settings(env={}, cwd=_pyproject(tmp_path, toml))


@pytest.mark.parametrize("price", ["inf", "nan", "1e300"])
def test_non_finite_prices_are_refused(tmp_path: Path, price: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.symphony-assist.prices]\n"m" = {{input = {price}, output = 0.2}}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"prices\.m"):
        load_settings(env={}, cwd=tmp_path)


def test_a_typed_command_line_value_obeys_the_same_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"for budget_run \(from command line\)"):
        load_settings({"budget_run": float("inf")}, env={}, cwd=tmp_path)
    assert load_settings({"budget_run": 0.25}, env={}, cwd=tmp_path).budget_run == 0.25


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["review"], {"SYMPHONY_ASSIST_BUDGET_DAILY": "inf"}, "(from SYMPHONY_ASSIST_BUDGET_DAILY)"),
        (["config"], {"SYMPHONY_ASSIST_BUDGET_DAILY": "1e309"}, "(from SYMPHONY_ASSIST_BUDGET_DAILY)"),
        (["config"], {"SYMPHONY_ASSIST_TIMEOUT": "nan"}, "(from SYMPHONY_ASSIST_TIMEOUT)"),
        (["review", "--max-cost", "inf"], {}, "--max-cost"),
        (["review", "--max-cost", "1e400"], {}, "--max-cost"),
        (["review", "--max-cost", "5000000"], {}, "--max-cost"),
        (["review", "--temperature", "1e400"], {}, "--temperature"),
        (["review", "--temperature", "5"], {}, "(from --temperature)"),
        (["query", "--max-tokens", "999999999", "hi"], {}, "(from --max-tokens)"),
    ],
)
def test_a_bad_number_is_one_line_and_exit_2_from_the_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    from symphony_assist_hooks.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, captured.err
    assert named in err[0]
    assert "Traceback" not in captured.err and captured.out == ""


# ====================================================================================== the trust boundary
ROUTING = ("base_url", "server_url", "cache_url", "cache_dir")


def test_settings_that_route_credentials_are_flagged_in_the_table() -> None:
    from symphony_assist_hooks.config.specs import SPECS

    assert {s.name for s in SPECS if s.routes_credentials} == set(ROUTING)
    assert {s.name for s in SPECS if not s.pyproject} == {"api_key_primary", "api_key_secondary", "server_token"}


@pytest.mark.parametrize(
    ("key", "setting"),
    [
        ("base_url", "base_url"),
        ("openai_base_url", "base_url"),
        ("server_url", "server_url"),
        ("cache_url", "cache_url"),
        ("llm_cache_url", "cache_url"),
        ("cache_dir", "cache_dir"),
    ],
)
def test_a_repository_never_sets_where_keys_tokens_or_cached_reviews_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, setting: str
) -> None:
    value = "/tmp/attacker" if setting == "cache_dir" else "http://attacker.invalid:1/v1"
    if setting == "cache_url":
        value = "redis://attacker.invalid:6379/0"
    root = _pyproject(tmp_path, f'{key} = "{value}"')
    s = load_settings(env={}, cwd=root)
    assert getattr(s, setting) is None
    assert s.sources[setting] == "default"
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"symphony-assist: ignored {key} from ")
    assert "come only from the environment or the command line" in err
    # the environment (the user's own choice) still sets it
    env_var = next(spec.env[0] for spec in SPECS if spec.name == setting)
    chosen = (
        "redis://mine:6379/0"
        if setting == "cache_url"
        else "/tmp/mine"
        if setting == "cache_dir"
        else ("http://mine.invalid/v1")
    )
    s2 = load_settings(env={env_var: chosen}, cwd=root)
    assert str(getattr(s2, setting)) == chosen and s2.sources[setting] == env_var


def test_a_bad_routing_value_in_a_repository_does_not_stop_the_run(tmp_path: Path) -> None:
    root = _pyproject(tmp_path, 'base_url = "ftp://nope"\nserver_url = 42')
    assert load_settings(env={}, cwd=root).base_url is None


def test_the_ignored_line_is_said_once_per_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _pyproject(tmp_path, 'server_url = "http://attacker.invalid:1"')
    load_settings(env={}, cwd=root)
    load_settings(env={}, cwd=root)
    assert capsys.readouterr().err.count("ignored server_url") == 1


@pytest.mark.parametrize(
    ("body", "setting", "expected"),
    [
        ("budget_monthly = 2", "budget_monthly", 2.0),  # lower: kept
        ("budget_monthly = 5000", "budget_monthly", 10.0),  # higher: the default stays
        ('budget_monthly = ""', "budget_monthly", 10.0),  # removed: the default stays
        ("budget_run = 0.1", "budget_run", 0.1),
        ("budget_run = 99", "budget_run", 0.5),
        ("budget_daily = 1", "budget_daily", 1.0),  # a cap where none was: kept
        ('budget_daily = "off"', "budget_daily", None),
    ],
)
def test_a_repository_may_only_lower_a_spending_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, setting: str, expected: float | None
) -> None:
    s = load_settings(env={}, cwd=_pyproject(tmp_path, body))
    assert getattr(s, setting) == expected
    err = capsys.readouterr().err
    raised = "5000" in body or "99" in body or '""' in body
    assert (f"ignored {setting}" in err) == raised
    if raised:
        assert "may lower a spending cap, not raise or remove it" in err
    env_var = "SYMPHONY_ASSIST_" + setting.upper()
    assert getattr(load_settings(env={env_var: "5000"}, cwd=tmp_path), setting) == 5000.0  # the user may


# ====================================================================================== pyproject shapes
def test_toml_lists_and_booleans_are_read_as_the_environment_would_be(tmp_path: Path) -> None:
    root = _pyproject(tmp_path, 'templates = ["security", "code_review"]\noffline = true\nreplay = false')
    s = load_settings(env={}, cwd=root)
    assert s.templates == ("security", "code_review")
    assert (s.offline, s.replay) == (True, False)
    assert s.sources["offline"].endswith("[tool.symphony-assist] offline")


def test_a_tool_key_that_is_not_a_table_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool]\nsymphony-assist = "on"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid value 'on' for \[tool\.symphony-assist\] .*expected a table$"):
        load_settings(env={}, cwd=tmp_path)


def test_an_unreadable_pyproject_is_one_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _pyproject(tmp_path, "timeout = 5") / "pyproject.toml"
    read_bytes = Path.read_bytes

    def refused(self: Path) -> bytes:  # chmod 000 does not stop root, who may run the tests
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", refused)
    with pytest.raises(ConfigError, match=r"expected a readable file \(Permission denied\)$") as exc:
        load_settings(env={}, cwd=tmp_path)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(
    ("prices", "named"),
    [
        ('prices = "cheap"', "prices"),  # not a table
        ("prices = {m = {input = 1}}", "prices.m"),  # no output price
        ("prices = {m = 3}", "prices.m"),  # not a table of prices
        ('prices = {m = {input = "free", output = 1}}', "prices.m"),  # not a number
        ("prices = {m = {input = 1, output = 1, cached = []}}", "prices.m"),
    ],
)
def test_a_malformed_price_table_names_the_model(tmp_path: Path, prices: str, named: str) -> None:
    where = r"pyproject\.toml \[tool\.symphony-assist\.prices\]"
    with pytest.raises(ConfigError, match=rf"for {re.escape(named)} \(from .*{where}\): expected a table of") as exc:
        load_settings(env={}, cwd=_pyproject(tmp_path, prices))
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(
    "url", ["http://", "https://:8443/x", "http://assist.invalid:port", "http://assist.invalid:70000"]
)
def test_a_server_url_without_a_host_or_with_a_bad_port_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Before the fix such a URL passed the scheme check and the first request ended in a traceback."""
    from symphony_assist_hooks.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_URL", url)
    assert main(["query", "hello?"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"symphony-assist: error: invalid value {url!r} for server_url (from SYMPHONY_ASSIST_SERVER_URL): "
        "expected an http:// or https:// URL"
    ]
    assert captured.out == ""
    assert load_settings(env={"OPENAI_BASE_URL": "https://[::1]:8443/v1/"}, cwd=tmp_path).base_url == (
        "https://[::1]:8443/v1"
    )
