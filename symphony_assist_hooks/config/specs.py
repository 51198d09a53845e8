"""The settings table: every setting declared once in `SPECS`, and the parsers its values go through.

Stdlib only (it runs on every cache hit). A `Spec` names a setting's environment variables, whether
(and under which extra keys) `[tool.symphony-assist]` may set it, its parser and default. A parser
turns raw text into a typed value or raises `ConfigError` naming the value, where it came from and
what is allowed. Deciding which source wins is `config.load_settings`'s job, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..amounts import USD_ALLOWED, parse_usd
from ..errors import ConfigError
from .keys import Secret, mask_url

__all__ = ["REPO_IGNORED_WHY", "SEVERITIES", "SPECS", "Parser", "Spec", "parse_secret"]

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


def _number(kind: type, lo: float, hi: float) -> Parser:
    """A whole number or a finite number in [lo, hi]: inf, nan and 1e400 are refused here, not by a traceback
    later (an infinite budget overflows the micro-dollar ledger, an infinite TTL the cache's expiry time)."""
    allowed = f"{'an integer' if kind is int else 'a number'} >= {lo} and <= {hi}"

    def parse(name: str, raw: str, source: str) -> Any:
        text = raw.strip()
        try:
            value = kind(text)
        except (ValueError, OverflowError):  # int('9' * 5000) is a ValueError too
            raise ConfigError(name, raw, source, allowed) from None
        if not lo <= value <= hi:  # False for NaN; inf is out of every range
            raise ConfigError(name, raw, source, allowed)
        return value

    return parse


def _usd_cap(name: str, raw: str, source: str) -> float | None:
    """A spending cap: an amount in USD (`amounts.parse_usd`, like --max-cost), or empty/none/off for no cap."""
    if raw.strip().lower() in ("", "none", "off"):
        return None
    try:
        return parse_usd(raw)
    except ValueError:
        raise ConfigError(name, raw, source, USD_ALLOWED + " (or empty for no limit)") from None


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
    if not v.startswith(("http://", "https://")) or not _host_and_port(v):
        raise ConfigError(name, mask_url(v), source, "an http:// or https:// URL")
    return v.rstrip("/")


def _host_and_port(url: str) -> bool:
    """Whether `url` names a host and, if it gives one, a valid port (`http://` or `http://h:x` would
    pass the scheme check and fail later, with a traceback, when the first request is made)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return False
    return bool(parts.hostname)


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


def parse_secret(name: str, raw: str, source: str) -> Secret | None:
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
    # Decides where a key, a token or our cached data goes (or is read from): never taken from the
    # repository under review, whose pyproject.toml is data (docs/trust-boundary.md). A repository that
    # sets it is told once that it was ignored; the environment and the command line still set it.
    routes_credentials: bool = False
    # A spending cap: a repository may lower it, never raise it above the default (or remove it).
    repo_may_only_lower: bool = False


_P = "SYMPHONY_ASSIST_"
REPO_IGNORED_WHY = (
    "settings that decide where a key, a token or cached reviews are sent come only from the environment "
    "or the command line, never from the repository under review"
)
SEVERITIES = ("critical", "high", "medium", "low", "info", "never")

SPECS: tuple[Spec, ...] = (
    Spec(
        "api_key_primary",
        ("OPENAI_API_KEY_PRIMARY", "OPENAI_API_KEY"),
        parse_secret,
        None,
        "Primary OpenAI key (OPENAI_API_KEY when OPENAI_API_KEY_PRIMARY is unset).",
        pyproject=False,
    ),
    Spec(
        "api_key_secondary",
        ("OPENAI_API_KEY_SECONDARY",),
        parse_secret,
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
        routes_credentials=True,
    ),
    Spec(
        "response_format",
        (_P + "RESPONSE_FORMAT",),
        _choice("auto", "json_schema", "json_object", "text"),
        "auto",
        "How structured answers are asked: auto (json_schema, downgraded and remembered per server when "
        "refused), or a dialect to start with.",
    ),
    Spec(
        "cache_ttl",
        ("LLM_CACHE_TTL",),
        _number(int, 0, 10**9),
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
        routes_credentials=True,
    ),
    Spec(
        "cache_dir",
        (_P + "CACHE_DIR",),
        _path,
        None,
        "Cache, ledger and stats directory (default: the user cache dir).",
        routes_credentials=True,
    ),
    Spec(
        "cache_size_limit",
        (_P + "CACHE_SIZE_LIMIT",),
        _number(int, 1 << 20, 10**15),
        512 << 20,
        "Bytes the disk cache may use before it evicts the oldest answers.",
    ),
    Spec(
        "budget_monthly",
        (_P + "BUDGET_MONTHLY",),
        _usd_cap,
        10.0,
        "USD per calendar month (UTC).",
        repo_may_only_lower=True,
    ),
    Spec(
        "budget_daily",
        (_P + "BUDGET_DAILY",),
        _usd_cap,
        None,
        "USD per UTC day (unset = no daily cap).",
        repo_may_only_lower=True,
    ),
    Spec(
        "budget_run",
        (_P + "BUDGET_RUN",),
        _usd_cap,
        0.50,
        "USD per run (one command, hook or pytest session).",
        repo_may_only_lower=True,
    ),
    Spec("timeout", (_P + "TIMEOUT",), _number(float, 0.1, 600), 30.0, "Seconds per API call."),
    Spec(
        "deadline",
        (_P + "DEADLINE",),
        _number(float, 1, 3600),
        60.0,
        "Seconds a whole run may take before it falls back to local answers.",
    ),
    Spec(
        "hook_deadline",
        (_P + "HOOK_DEADLINE",),
        _number(float, 1, 3600),
        20.0,
        "The deadline of a git hook run (pre-commit, pre-push): a commit does not wait longer.",
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
        routes_credentials=True,
    ),
    Spec(
        "server_token",
        (_P + "SERVER_TOKEN",),
        parse_secret,
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
        _number(int, 1, 10**12),
        1 << 20,
        "Files larger than this are skipped.",
    ),
)

_SPEC = {s.name: s for s in SPECS}
