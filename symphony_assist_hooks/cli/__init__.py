"""`symphony-assist`: argument parsing and the one place that turns errors into exit codes.

Each subcommand lives in `commands/<name>.py` as `run(args, settings, console) -> int` and is imported
only when it runs, so `--help` and `--version` stay on the stdlib. Exit codes (errors.py): 0 ok,
1 findings at or above --fail-on, 2 usage or configuration error, 3 no API key, 4 service error,
5 budget cap reached, 6 secret scan failed, 130 interrupted.

What `--help` and `--version` import: argparse, this module, terminal/console.py and logsafe (which the error path
needs), errors and `__version__`. Not `typing` (annotations only), not `threading` (the progress line:
terminal/progressline.py), not `shutil` (argparse asks it for the terminal's width; `_columns` answers the same
without its zlib, bz2 and lzma); tests/test_hot_paths.py keeps them out. Measured against the previous
release 4846a60, whole processes run in turn (A B A B …, 30 pairs after 3 warm-ups), the median of the
pair-by-pair ratios of CPU time (user + system) this tree / 4846a60, shared 2-core machine, Python 3.11:

| command | install | before | after |
|---|---|---|---|
| `--help` | editable, PYTHONDONTWRITEBYTECODE=1 (our modules compiled from source each run) | 1.10 | 0.92 |
| `--help` | bytecode written once (PYTHONPYCACHEPREFIX, as bench/hook.py does) | 1.05 | 0.84 |
| `--version` | editable | 1.11 | 0.90 |
| `--version` | bytecode | 1.05 | 0.84 |

(`--help` before: 60 vs 54 ms CPU editable; after: 48 vs 52 ms editable, 39 vs 46 ms bytecode.)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..amounts import argument, non_negative, parse_usd, whole_number
from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, SymphonyError
from ..terminal.console import Console

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: --help never needs it (terminal/console.py)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["build_parser", "main"]

_EPILOG = """exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or configuration error,
3 no API key configured, 4 service error, 5 budget cap reached, 6 secret scan failed, 130 interrupted"""


_usd = argument(parse_usd)
_nonneg_float = argument(non_negative)
_pos_int = argument(whole_number(1))


def _columns() -> int:
    """`shutil.get_terminal_size().columns`, what argparse's HelpFormatter sizes the help to, without
    importing shutil (it imports zlib, bz2, lzma and fnmatch on every --help and --version): COLUMNS when
    it is a positive number, else the width of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, closed, detached, or not a terminal
        return 80


class _Width:
    """argparse's default width (the terminal's columns - 2), found by `_columns`."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None, **kw: Any
    ) -> None:
        width = _columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width, **kw)  # type: ignore[call-arg]


class _HelpFormatter(_Width, argparse.HelpFormatter):
    pass


class _RawDescriptionHelpFormatter(_Width, argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2 (no usage dump)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)  # the subcommands' parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        # The console already prefixes "symphony-assist: error:"; name only the subcommand, if any.
        command = self.prog.removeprefix("symphony-assist").strip()
        raise SymphonyError(f"{command + ': ' if command else ''}{message} (see --help)")


def _global_flags(p: argparse.ArgumentParser, *, sub: bool) -> None:
    """Options accepted on either side of the subcommand (`--offline review` and `review --offline`).

    A subcommand's copy defaults to SUPPRESS so it never overwrites a value given before the subcommand.
    """
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=argparse.SUPPRESS if sub else "auto",
        help="colour the output: auto (a terminal), always or never (default: auto)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        default=argparse.SUPPRESS if sub else None,
        help="never call the network: the local analyzers answer (SYMPHONY_ASSIST_OFFLINE=1)",
    )


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model to ask (default: LLM_MODEL_PRIMARY, gpt-4o-mini)")
    p.add_argument("--temperature", type=_nonneg_float, help="sampling temperature (default 0)")
    p.add_argument("--max-tokens", type=_pos_int, dest="max_tokens", help="completion tokens per answer")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symphony-assist",
        description="A careful, cheap AI reviewer: cached, budget-capped, secret-safe.",
        epilog=_EPILOG,
        formatter_class=_RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"symphony-assist {__version__}")
    _global_flags(parser, sub=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("query", help="ask a question (or a file of questions)")
    p.add_argument("prompt", nargs="?", help="the question; with --batch-file, the instruction shared by every line")
    p.add_argument("--template", default="general", help="template guiding the answer (default: general)")
    p.add_argument(
        "--batch-file",
        dest="batch_file",
        help="one question per line, answered in as few requests as possible (each answer cached alone)",
    )
    _model_flags(p)
    p.add_argument("--json", action="store_true", help="print {model, content, usage, cached}")
    p.add_argument("--no-cache", action="store_true", dest="no_cache", help="do not answer from the cache")

    p = sub.add_parser("review", help="review changes (staged by default)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--staged", action="store_true", help="the staged changes (default)")
    src.add_argument("--rev", help="a revision range: A..B or A...B")
    src.add_argument("--all-files", action="store_true", dest="all_files", help="every tracked file, whole")
    p.add_argument("paths", nargs="*", help="limit to these paths")
    p.add_argument("--template", dest="templates", help="comma-separated templates (default: code_review,security)")
    p.add_argument(
        "--fail-on",
        dest="fail_on",
        choices=("critical", "high", "medium", "low", "info", "never"),
        help="lowest severity that exits 1 (default: high; never = always exit 0)",
    )
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        default=[],
        metavar="NAME[=PATH]",
        help="text, json, github, sarif, gitlab, rdjsonl; repeatable; =PATH writes a file",
    )
    p.add_argument("--max-cost", type=_usd, dest="max_cost", help="USD this run may spend")
    p.add_argument(
        "--fail-closed",
        action="store_true",
        dest="fail_closed",
        help="exit non-zero when the service cannot answer (default: fall back and pass)",
    )
    p.add_argument("--baseline", help="hide findings whose fingerprints are in this file")
    p.add_argument("--context", type=int, dest="context_lines", help="diff context lines (default 1)")
    _model_flags(p)
    p.add_argument("--no-cache", action="store_true", dest="no_cache", help="do not answer from the cache")
    p.add_argument("--pre-commit", action="store_true", dest="pre_commit", help=argparse.SUPPRESS)

    p = sub.add_parser("baseline", help="record current findings so later runs hide them")
    p.add_argument("--rev", help="a revision range (default: all files)")
    p.add_argument(
        "--output", default=".symphony-assist/baseline.json", help="where to write it (default: %(default)s)"
    )
    p.add_argument("--template", dest="templates", help="comma-separated templates (default: code_review,security)")

    p = sub.add_parser("install-hook", help="install plain git hooks (without the pre-commit framework)")
    p.add_argument("--pre-push", action="store_true", dest="pre_push", help="install the pre-push hook too")
    p.add_argument("--force", action="store_true", help="replace an existing hook (kept as .orig)")

    sub.add_parser("templates", help="list prompt templates")
    p = sub.add_parser("models", help="the provider's models and the active key")
    p.add_argument("--json", action="store_true", help="print {keys, primary_model, fallback_model, models, ...}")
    p = sub.add_parser("stats", help="usage, cache hit rate, spend against budgets, savings")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--since", help="only events since this date (YYYY-MM-DD)")
    p.add_argument("--html", help="write a self-contained HTML report to this path")
    p = sub.add_parser("switch-key", help="make the primary or secondary key the active one")
    p.add_argument("alias", choices=("primary", "secondary"), help="primary or secondary")
    p = sub.add_parser("cache", help="inspect or manage the response cache")
    p.add_argument("action", choices=("info", "clear", "export", "import"), help="info, clear, export or import")
    p.add_argument("file", nargs="?", help="for export/import: the JSON-lines file")
    sub.add_parser("plugins", help="list loaded plugins")
    sub.add_parser("config", help="show every setting and where it came from (keys masked)")
    p = sub.add_parser("eval", help="measure review quality on labelled cases")
    p.add_argument("--template", dest="templates", help="comma-separated templates to evaluate (default: all)")
    p.add_argument("--cases", help="a folder of *.case / *.jsonl files, or one file (default: the built-in suite)")
    p.add_argument(
        "--suite",
        choices=("built-in", "web-security"),
        help="web-security: the offline security review vs bandit on labelled web handlers (TPR-FPR per category)",
    )
    p.add_argument("--baseline", help="the --json output of an earlier run: report what got better or worse")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--max-cost", type=_usd, dest="max_cost", help="USD the whole evaluation may spend")
    p.add_argument(
        "--findings",
        choices=("merged", "model", "analyzers"),
        help="which findings are scored: merged (default: the model's and the analyzers', as users get them), "
        "model, or analyzers",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a figure is below the suite's thresholds (or worse than --baseline)",
    )
    _model_flags(p)
    p = sub.add_parser("serve", help="run the HTTP API (extra 'server')")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    for subparser in sub.choices.values():
        _global_flags(subparser, sub=True)
    return parser


_COMMAND_MODULE = {
    "switch-key": "keys",
    "install-hook": "install_hook",
    "eval": "evaluate",
    "cache": "cache_cmd",
}


_NUMERIC_FLAGS = {"temperature": "--temperature", "max_tokens": "--max-tokens", "budget_run": "--max-cost"}


def _cli_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings a command line overrides (None = not given).

    `--model`, `--temperature` and `--max-tokens` are per-request options: the command puts them on its
    `Request` (the settings keep the defaults); here they are only checked against their settings' ranges."""
    cli: dict[str, Any] = {"offline": True if args.offline else None}
    checked = {name: getattr(args, name, None) for name in ("temperature", "max_tokens")}
    for name in ("fail_on", "context_lines", "max_cost", "templates"):
        value = getattr(args, name, None)
        if value is None:
            continue
        if name == "max_cost":
            cli["budget_run"] = value
        elif name == "templates":
            cli["templates"] = tuple(t.strip() for t in value.split(",") if t.strip())
            if not cli["templates"]:
                raise ConfigError("--template", value, "--template", "comma-separated template names")
        elif name == "context_lines" and not 0 <= value <= 20:
            raise ConfigError("--context", value, "--context", "an integer from 0 to 20")
        else:
            cli[name] = value
    from ..config.specs import SPECS  # deferred: config (~28 ms of imports) is never paid by --help

    specs = {s.name: s for s in SPECS}
    given = {**checked, "budget_run": cli.get("budget_run")}
    for setting, flag in _NUMERIC_FLAGS.items():  # a flag obeys the range its setting has everywhere else
        if given[setting] is not None:
            specs[setting].parse(setting, repr(given[setting]), flag)
    return cli


def main(argv: Sequence[str] | None = None) -> int:

    console = Console()
    try:
        args = build_parser().parse_args(argv)
        console = Console(color=args.color)
        if not args.command:
            build_parser().print_help()
            return EXIT_USAGE
        from ..config import load_settings  # deferred: --help exits in parse_args, before config (~28 ms)

        settings = load_settings(_cli_settings(args))
        module = importlib.import_module(f".commands.{_COMMAND_MODULE.get(args.command, args.command)}", __package__)
        return int(module.run(args, settings, console))
    except SymphonyError as exc:
        console.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
