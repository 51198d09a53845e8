"""Settings and the one function that decides them: CLI > environment > pyproject.toml > default.

Stdlib only (it runs on every cache hit). Every setting is declared once in `SPECS`: its environment
variables, its `[tool.symphony-assist]` key, its parser and default. A bad value raises `ConfigError`
naming the value, where it came from and what is allowed (exit 2).

API keys are read from the environment only (never from pyproject.toml, which is committed) and are
wrapped in `Secret`, whose str()/repr() are masked, so a key cannot leak through a log line or an
exception message by accident.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["SPECS", "Secret", "Settings", "find_project_root", "load_settings", "mask_key", "mask_url", "user_dirs"]

APP = "symphony-assist"


def mask_key(key: str) -> str:
    """`sk-…abcd`: a short issuer prefix and the last four characters, never more."""
    if len(key) <= 8:
        return "…" + key[-2:] if len(key) > 4 else "…"
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}…{key[-4:]}"


class Secret:
    """A key held in memory. Only `reveal()` gives the value; everything else shows it masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        return mask_key(self._value)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"Secret({self.masked()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def user_dirs() -> tuple[Path, Path]:
    """(cache dir, config dir) for this user, per platform conventions (XDG on Linux).

    On Linux this is the XDG Base Directory rule platformdirs applies, computed here: importing
    platformdirs costs ~2-10 ms, and every cache hit needs these paths.
    """
    if sys.platform.startswith("linux"):
        home = Path.home()

        def xdg(var: str, default: str) -> Path:
            value = os.environ.get(var, "").strip()
            return Path(value) if value and os.path.isabs(value) else home / default

        return xdg("XDG_CACHE_HOME", ".cache") / APP, xdg("XDG_CONFIG_HOME", ".config") / APP
    import platformdirs

    return (
        Path(platformdirs.user_cache_dir(APP, appauthor=False)),
        Path(platformdirs.user_config_dir(APP, appauthor=False)),
    )


# ---------------------------------------------------------------------------------------------- parsers
Parser = Callable[[str, str, str], Any]  # (name, raw, source) -> value


def _str(name: str, raw: str, source: str) -> str:
    return raw.strip()


def _opt_str(name: str, raw: str, source: str) -> str | None:
    return raw.strip() or None


def _bool(name: str, raw: str, source: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, raw, source, "1/0, true/false, yes/no or on/off")


def _number(kind: type, lo: float, hi: float | None, *, optional: bool = False) -> Parser:
    allowed = f"{'an integer' if kind is int else 'a number'} >= {lo}" + (f" and <= {hi}" if hi else "")
    if optional:
        allowed += " (or empty for no limit)"

    def parse(name: str, raw: str, source: str) -> Any:
        text = raw.strip()
        if optional and text.lower() in ("", "none", "off"):
            return None
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(name, raw, source, allowed) from None
        if value < lo or (hi is not None and value > hi) or math.isnan(value):  # NaN
            raise ConfigError(name, raw, source, allowed)
        return value

    return parse


def _choice(*choices: str) -> Parser:
    def parse(name: str, raw: str, source: str) -> str:
        v = raw.strip().lower()
        if v not in choices:
            raise ConfigError(name, raw, source, "one of " + ", ".join(choices))
        return v

    return parse


def _csv(name: str, raw: str, source: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _url(name: str, raw: str, source: str) -> str | None:
    v = raw.strip()
    if not v:
        return None
    if not v.startswith(("http://", "https://")):
        raise ConfigError(name, mask_url(v), source, "an http:// or https:// URL")
    return v.rstrip("/")


def mask_url(url: str) -> str:
    """The URL with its password (`user:***@`, `?password=***`) masked; a bare userinfo is masked
    whole, since a client would send it as a credential. Safe to print."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    query = "&".join(
        item.split("=")[0] + "=***" if item.split("=")[0].lower() == "password" else item
        for item in parts.query.split("&")
        if item
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def _cache_url(name: str, raw: str, source: str) -> str | None:
    v = raw.strip()
    if not v:
        return None
    if not v.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(name, mask_url(v), source, "a redis://, rediss:// or unix:// URL")
    return v


def _path(name: str, raw: str, source: str) -> Path | None:
    v = raw.strip()
    return Path(v).expanduser() if v else None


def _secret(name: str, raw: str, source: str) -> Secret | None:
    v = raw.strip()
    return Secret(v) if v else None


@dataclass(frozen=True)
class Spec:
    name: str
    env: tuple[str, ...]
    parse: Parser
    default: Any
    doc: str
    pyproject: bool = True  # secrets are environment-only
    aliases: tuple[str, ...] = ()  # extra pyproject keys


_P = "SYMPHONY_ASSIST_"
SEVERITIES = ("critical", "high", "medium", "low", "info", "never")

SPECS: tuple[Spec, ...] = (
    Spec(
        "api_key_primary",
        ("OPENAI_API_KEY_PRIMARY", "OPENAI_API_KEY"),
        _secret,
        None,
        "Primary OpenAI key (OPENAI_API_KEY when OPENAI_API_KEY_PRIMARY is unset).",
        pyproject=False,
    ),
    Spec(
        "api_key_secondary",
        ("OPENAI_API_KEY_SECONDARY",),
        _secret,
        None,
        "Secondary key: used when the primary is rejected or out of quota.",
        pyproject=False,
    ),
    Spec(
        "model_primary",
        ("LLM_MODEL_PRIMARY",),
        _str,
        "gpt-4o-mini",
        "Model asked first.",
        aliases=("llm_model_primary", "model"),
    ),
    Spec(
        "model_fallback",
        ("LLM_MODEL_FALLBACK",),
        _str,
        "gpt-4o",
        "Model asked when the primary fails (not found, context length, 5xx).",
        aliases=("llm_model_fallback",),
    ),
    Spec(
        "base_url",
        ("OPENAI_BASE_URL",),
        _url,
        None,
        "Any OpenAI-compatible server (Ollama, vLLM, a gateway).",
        aliases=("openai_base_url",),
    ),
    Spec(
        "cache_ttl",
        ("LLM_CACHE_TTL",),
        _number(int, 0, None),
        86400,
        "Seconds a cached answer stays valid (0 = forever).",
        aliases=("llm_cache_ttl",),
    ),
    Spec(
        "cache_backend",
        ("LLM_CACHE_BACKEND",),
        _choice("disk", "memory", "redis"),
        "disk",
        "Where answers are cached.",
        aliases=("llm_cache_backend",),
    ),
    Spec(
        "cache_url",
        ("LLM_CACHE_URL",),
        _cache_url,
        None,
        "Redis URL for the redis backend.",
        aliases=("llm_cache_url",),
    ),
    Spec(
        "cache_dir",
        (_P + "CACHE_DIR",),
        _path,
        None,
        "Cache, ledger and stats directory (default: the user cache dir).",
    ),
    Spec(
        "cache_size_limit",
        (_P + "CACHE_SIZE_LIMIT",),
        _number(int, 1 << 20, None),
        512 << 20,
        "Bytes the disk cache may use before it evicts the oldest answers.",
    ),
    Spec(
        "budget_monthly",
        (_P + "BUDGET_MONTHLY",),
        _number(float, 0, None, optional=True),
        10.0,
        "USD per calendar month (UTC).",
    ),
    Spec(
        "budget_daily",
        (_P + "BUDGET_DAILY",),
        _number(float, 0, None, optional=True),
        None,
        "USD per UTC day (unset = no daily cap).",
    ),
    Spec(
        "budget_run",
        (_P + "BUDGET_RUN",),
        _number(float, 0, None, optional=True),
        0.50,
        "USD per run (one command, hook or pytest session).",
    ),
    Spec("timeout", (_P + "TIMEOUT",), _number(float, 0.1, 600), 30.0, "Seconds per API call."),
    Spec(
        "deadline",
        (_P + "DEADLINE",),
        _number(float, 1, 3600),
        60.0,
        "Seconds a whole run may take before it falls back to local answers.",
    ),
    Spec("offline", (_P + "OFFLINE",), _bool, False, "1 = never call the network."),
    Spec(
        "replay",
        (_P + "REPLAY",),
        _bool,
        True,
        "0 = always run a staged review, never print the kept result of an identical, fully cached one.",
    ),
    Spec(
        "server_url",
        (_P + "SERVER_URL",),
        _url,
        None,
        "Send requests to a symphony-assist server instead of OpenAI.",
    ),
    Spec(
        "server_token",
        (_P + "SERVER_TOKEN",),
        _secret,
        None,
        "Bearer token for the symphony-assist server.",
        pyproject=False,
    ),
    Spec(
        "server_hosts",
        (_P + "SERVER_HOSTS",),
        _csv,
        (),
        "Host names `serve` also answers to (a reverse proxy in front); makes the token required.",
    ),
    Spec("temperature", (_P + "TEMPERATURE",), _number(float, 0, 2), 0.0, "Sampling temperature."),
    Spec(
        "max_tokens",
        (_P + "MAX_TOKENS",),
        _number(int, 16, 100_000),
        800,
        "Completion tokens allowed per answered item (a batch gets the sum, capped).",
    ),
    Spec(
        "max_request_tokens",
        (_P + "MAX_REQUEST_TOKENS",),
        _number(int, 500, 1_000_000),
        24_000,
        "Estimated prompt tokens packed into one request.",
    ),
    Spec("concurrency", (_P + "CONCURRENCY",), _number(int, 1, 64), 4, "Requests in flight at once."),
    Spec("context_lines", (_P + "CONTEXT_LINES",), _number(int, 0, 20), 1, "Diff context lines (-U)."),
    Spec("templates", (_P + "TEMPLATES",), _csv, ("code_review", "security"), "Review templates."),
    Spec(
        "fail_on",
        (_P + "FAIL_ON",),
        _choice(*SEVERITIES),
        "high",
        "Lowest severity that fails the review (never = always exit 0).",
    ),
    Spec("include", (_P + "INCLUDE",), _csv, (), "Globs of paths to review (empty = all)."),
    Spec("exclude", (_P + "EXCLUDE",), _csv, (), "Globs of paths never reviewed."),
    Spec(
        "max_file_bytes",
        (_P + "MAX_FILE_BYTES",),
        _number(int, 1, None),
        1 << 20,
        "Files larger than this are skipped.",
    ),
)

_SPEC = {s.name: s for s in SPECS}


@dataclass(frozen=True)
class Settings:
    api_key_primary: Secret | None = None
    api_key_secondary: Secret | None = None
    model_primary: str = "gpt-4o-mini"
    model_fallback: str = "gpt-4o"
    base_url: str | None = None
    cache_ttl: int = 86400
    cache_backend: str = "disk"
    cache_url: str | None = None
    cache_dir: Path | None = None
    cache_size_limit: int = 512 << 20
    budget_monthly: float | None = 10.0
    budget_daily: float | None = None
    budget_run: float | None = 0.50
    timeout: float = 30.0
    deadline: float = 60.0
    offline: bool = False
    replay: bool = True
    server_url: str | None = None
    server_token: Secret | None = None
    server_hosts: tuple[str, ...] = ()
    temperature: float = 0.0
    max_tokens: int = 800
    max_request_tokens: int = 24_000
    concurrency: int = 4
    context_lines: int = 1
    templates: tuple[str, ...] = ("code_review", "security")
    fail_on: str = "high"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1 << 20
    # Not environment settings: [tool.symphony-assist.prices] model = {input, output, cached} USD/Mtok.
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    project_root: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # setting -> where its value came from

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else user_dirs()[0]

    @property
    def has_key(self) -> bool:
        return self.api_key_primary is not None or self.api_key_secondary is not None

    def public(self) -> dict[str, Any]:
        """Every setting with secrets masked: safe to print."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("sources",):
                continue
            v = getattr(self, f.name)
            if isinstance(v, Secret):
                v = v.masked()
            elif isinstance(v, Path):
                v = str(v)
            elif f.name in ("cache_url", "server_url", "base_url") and v:
                v = mask_url(v)
            out[f.name] = v
        return out


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a pyproject.toml, stopping at a git root."""
    cur = start.resolve()
    for d in (cur, *cur.parents):
        if (d / "pyproject.toml").is_file():
            return d
        if (d / ".git").exists():
            return None
    return None


def _read_pyproject(root: Path | None) -> tuple[dict[str, Any], Path | None]:
    if root is None:
        return {}, None
    path = root / "pyproject.toml"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("pyproject.toml", str(path), str(path), f"a readable file ({exc.strerror})") from None
    if b"symphony-assist" not in raw:
        return {}, path  # no table of ours: skip the TOML parser (~3 ms on every hook run)
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("pyproject.toml", str(path), str(path), f"readable TOML ({exc})") from None
    table = data.get("tool", {}).get(APP, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.{APP}]", table, str(path), "a table")
    return table, path


def _parse_prices(raw: Any, source: str) -> dict[str, dict[str, float]]:
    allowed = "a table of model = {input = USD/Mtok, output = USD/Mtok, cached = USD/Mtok}"
    if not isinstance(raw, dict):
        raise ConfigError("prices", raw, source, allowed)
    out: dict[str, dict[str, float]] = {}
    for model, spec in raw.items():
        if not isinstance(spec, dict) or not {"input", "output"} <= spec.keys():
            raise ConfigError(f"prices.{model}", spec, source, allowed)
        try:
            entry = {k: float(spec[k]) for k in ("input", "output")}
            entry["cached"] = float(spec["cached"] if "cached" in spec else spec["input"])
        except (TypeError, ValueError):
            raise ConfigError(f"prices.{model}", spec, source, allowed) from None
        if any(v < 0 for v in entry.values()):
            raise ConfigError(f"prices.{model}", spec, source, allowed)
        out[str(model)] = entry
    return out


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Decide every setting. `cli` maps setting names to already-typed values (None = not given).

    Precedence: CLI > environment > [tool.symphony-assist] in the nearest pyproject.toml > default.
    """
    env = os.environ if env is None else env
    cli = cli or {}
    root = find_project_root(cwd or Path.cwd())
    table, pyproject_path = _read_pyproject(root)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    known = {s.name for s in SPECS if s.pyproject} | {a for s in SPECS for a in s.aliases} | {"prices"}
    for key in table:
        if key not in known:
            allowed = "one of " + ", ".join(sorted(s.name for s in SPECS if s.pyproject))
            raise ConfigError(f"[tool.{APP}] key {key!r}", table[key], str(pyproject_path), allowed)

    for spec in SPECS:
        value: Any = spec.default
        source = "default"
        if spec.pyproject:
            for key in (spec.name, *spec.aliases):
                if key in table:
                    raw = table[key]
                    src = f"{pyproject_path} [tool.{APP}] {key}"
                    if isinstance(raw, list):
                        raw = ",".join(str(x) for x in raw)
                    elif isinstance(raw, bool):
                        raw = "1" if raw else "0"
                    value, source = spec.parse(spec.name, str(raw), src), src
                    break
        for var in spec.env:
            raw_env = env.get(var)
            if raw_env is not None and (raw_env.strip() or spec.parse is not _secret):
                value, source = spec.parse(spec.name, raw_env, var), var
                break
        if cli.get(spec.name) is not None:
            value, source = cli[spec.name], "command line"
        values[spec.name] = value
        sources[spec.name] = source

    prices = _parse_prices(table["prices"], f"{pyproject_path} [tool.{APP}.prices]") if "prices" in table else {}
    if values["cache_backend"] == "redis" and not values["cache_url"]:
        raise ConfigError("cache_backend", "redis", sources["cache_backend"], "LLM_CACHE_URL to be set too")
    return Settings(**values, prices=prices, project_root=root, sources=sources)
