"""Settings and the one function that decides them: CLI > environment > pyproject.toml > default.

The repository under review is data (docs/trust-boundary.md). Its `[tool.symphony-assist]` table never
sets a setting marked `routes_credentials` in the settings table (where a key, a token or cached reviews
go: base_url, server_url, cache_url, cache_dir) and may only lower a spending cap; `load_settings` is the
one place that enforces it, and says once on stderr what it ignored and why. There is no user config
file: the user's own settings are the environment and the command line.

Stdlib only (it runs on every cache hit). Every setting is declared once in `specs.SPECS`: its
environment variables, its `[tool.symphony-assist]` key, its parser and default. A bad value raises
`ConfigError` naming the value, where it came from and what is allowed (exit 2).

API keys are read from the environment only (never from pyproject.toml, which is committed) and are
wrapped in `secret.Secret`, whose str()/repr() are masked, so a key cannot leak through a log line or
an exception message by accident. Both are re-exported here, where importers have always found them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..logsafe import inert_line
from .keys import Secret, mask_url
from .specs import REPO_IGNORED_WHY, SPECS, Spec, parse_secret

__all__ = ["Settings", "builtin_template_dir", "find_project_root", "load_settings", "user_dirs"]

APP = "symphony-assist"


def builtin_template_dir() -> Path:
    """Templates shipped in the wheel (`symphony_assist_hooks/templates`) or, in a source checkout,
    the top-level `templates/` folder."""
    package = Path(__file__).parent.parent
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


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


@dataclass(frozen=True)
class Settings:
    api_key_primary: Secret | None = None
    api_key_secondary: Secret | None = None
    model_primary: str = "gpt-4o-mini"
    model_fallback: str = "gpt-4o"
    base_url: str | None = None
    response_format: str = "auto"
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
    hook_deadline: float = 20.0
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
    """The nearest directory at or above `start` holding a pyproject.toml, else the git worktree root that
    stopped the walk (a repository without pyproject.toml still has its `.symphony-assist/templates`);
    None outside both."""
    cur = start.resolve()
    for d in (cur, *cur.parents):
        if (d / "pyproject.toml").is_file() or (d / ".git").exists():
            return d
    return None


def _read_pyproject(root: Path | None) -> tuple[dict[str, Any], Path | None]:
    if root is None or not (root / "pyproject.toml").is_file():
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
    allowed = "a table of model = {input = USD/Mtok, output = USD/Mtok, cached = USD/Mtok}, each from 0 to 1000000"
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
        if not all(0 <= v <= 1_000_000 for v in entry.values()):  # also NaN and inf (TOML has both)
            raise ConfigError(f"prices.{model}", spec, source, allowed)
        out[str(model)] = entry
    return out


_told: set[str] = set()  # ignored-setting lines already printed by this process


def _tell_ignored(key: str, path: Path | None, why: str) -> None:
    """One stderr line per ignored repository setting and process (stdlib only, through logsafe)."""
    said = f"{key}\0{path}\0{why}"
    if said in _told:
        return
    _told.add(said)
    where = "pyproject.toml" if path is None else _display(path)
    line = f"symphony-assist: ignored {key} from {where}: {why}"
    print(inert_line(line), file=sys.stderr)  # a path is untrusted text: no control character, no `##[` command


def _display(path: Path) -> str:
    try:
        return "./" + path.relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _may_lower(spec: Spec, value: Any, key: str, path: Path | None) -> bool:
    """Whether the repository's value for a spending cap may be used: lower than the default only."""
    if value is None and spec.default is None:
        return True  # "no cap" where there is none: nothing changes
    if spec.repo_may_only_lower and not (value is not None and (spec.default is None or value <= spec.default)):
        limit = "no cap" if spec.default is None else f"{spec.default:g}"
        _tell_ignored(
            key,
            path,
            f"a repository may lower a spending cap, not raise or remove it (kept {limit}; "
            "set it in the environment or on the command line)",
        )
        return False
    return True


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Decide every setting. `cli` maps setting names to already-typed values (None = not given).

    Precedence: CLI > environment > [tool.symphony-assist] in the nearest pyproject.toml > default,
    except that the repository's table never sets a `routes_credentials` setting and may only lower a
    `repo_may_only_lower` cap (`_from_repository`).
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
                    if spec.routes_credentials:  # not even parsed: a bad value must not stop the run
                        _tell_ignored(key, pyproject_path, REPO_IGNORED_WHY)
                        break
                    parsed = spec.parse(spec.name, str(raw), src)
                    if _may_lower(spec, parsed, key, pyproject_path):
                        value, source = parsed, src
                    break
        for var in spec.env:
            raw_env = env.get(var)
            if raw_env is not None and (raw_env.strip() or spec.parse is not parse_secret):
                value, source = spec.parse(spec.name, raw_env, var), var
                break
        if cli.get(spec.name) is not None:
            value, source = cli[spec.name], "command line"
            if isinstance(value, int | float) and not isinstance(value, bool):  # typed by a caller: same range
                spec.parse(spec.name, repr(value), source)
        values[spec.name] = value
        sources[spec.name] = source

    prices = _parse_prices(table["prices"], f"{pyproject_path} [tool.{APP}.prices]") if "prices" in table else {}
    if values["cache_backend"] == "redis" and not values["cache_url"]:
        raise ConfigError("cache_backend", "redis", sources["cache_backend"], "LLM_CACHE_URL to be set too")
    return Settings(**values, prices=prices, project_root=root, sources=sources)
