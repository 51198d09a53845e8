"""Output formats: one `Annotator` protocol, one module per format, one registry.

| name      | module       | default destination           | for                                   |
|-----------|--------------|-------------------------------|---------------------------------------|
| `text`    | text.py      | stdout                        | terminals, pre-commit                 |
| `github`  | github.py    | stdout (+ `$GITHUB_STEP_SUMMARY`) | GitHub Actions annotations + summary |
| `sarif`   | sarif.py     | `symphony-assist.sarif`       | GitHub code scanning, SARIF viewers   |
| `gitlab`  | gitlab.py    | `gl-code-quality-report.json` | GitLab Code Quality widget            |
| `json`    | jsonfmt.py   | stdout                        | scripts (stable, versioned document)  |
| `rdjsonl` | rdjsonl.py   | stdout                        | reviewdog                             |

Beside the formats: base.py (the `Annotator` protocol, `RenderContext`, helpers every format uses),
summary.py (the github format's second sink, the `$GITHUB_STEP_SUMMARY` markdown: a rendering of the
same findings, so a format, not a separate feature) and markdown.py (the escaping that makes model text
inert in that markdown; a sink's escaping belongs with its format).

`--format NAME[=PATH]` is repeatable (`parse_format_args`); `emit` renders each and writes it.
The built-in formats (builtin.py) and a plugin's register through the same `register_annotators`
hook; callers pass `plugins.annotators()` (a later registration of a name wins over a built-in).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import UsageError
from ..findings import Report
from ..terminal.console import Console
from .base import Annotator, RenderContext, StepSummaryAnnotator

__all__ = ["emit", "get_annotator", "parse_format_args"]


def get_annotator(name: str, formats: Mapping[str, Annotator]) -> Annotator:
    """The annotator called `name` (case-insensitive) among `formats` (`plugins.annotators()`: the
    built-ins and every plugin's, registered through the `register_annotators` hook)."""
    key = name.strip().lower()
    known = {n.strip().lower(): a for n, a in formats.items()}
    if key in known:
        return known[key]
    raise UsageError(f"unknown output format {name!r} (from --format): choose one of {', '.join(sorted(known))}")


def parse_format_args(values: Sequence[str]) -> list[tuple[str, Path | None]]:
    """`--format NAME[=PATH]` values as (name, path or None), in order. Names are not checked here
    (plugins may not be loaded yet): `get_annotator`/`emit` do that."""
    out: list[tuple[str, Path | None]] = []
    for value in values:
        name, sep, path = value.partition("=")
        name = name.strip().lower()
        if not name:
            raise UsageError(f"--format {value!r} has no format name: use NAME or NAME=PATH, e.g. sarif=out.sarif")
        if sep and not path.strip():
            raise UsageError(f"--format {value!r} has an empty PATH: use {name} or {name}=PATH")
        out.append((name, Path(path) if sep else None))
    return out


def _encodable(text: str) -> str:
    """Lone surrogates (possible in JSON-decoded model text) replaced, so UTF-8 output cannot fail."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _write_file(path: Path, text: str, fmt: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:  # no BOM, LF kept as is
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot write the {fmt} output to {path} (from --format {fmt}=PATH): {exc.strerror or exc}; "
            "choose a writable path"
        ) from exc


def emit(
    report: Report,
    formats: Sequence[tuple[str, Path | None]],
    ctx: RenderContext,
    console: Console,
    registry: Mapping[str, Annotator],
) -> list[Path]:
    """Render each format and write it to its PATH, its default file, or stdout; the files written.

    `registry` is every known format by name (`plugins.annotators()`). Every name is checked before
    anything is written; two formats may not write the same file.
    Files never get colour. An annotator with `render_summary` (github) also appends to
    `ctx.step_summary`; failing to do so is a notice, not an error (the annotations are out).
    """
    resolved: list[tuple[str, Annotator, Path | None]] = []
    destinations: dict[str, str] = {}
    for name, path in formats:
        annotator = get_annotator(name, registry)
        dest = (
            path
            if path is not None
            else (None if annotator.default_stream == "stdout" else Path(annotator.default_stream))
        )
        if dest is not None:
            key = os.path.abspath(dest)
            if key in destinations:
                raise UsageError(
                    f"--format {destinations[key]} and --format {name} both write to {dest}: give each its own PATH"
                )
            destinations[key] = name
        resolved.append((name, annotator, dest))

    written: list[Path] = []
    for name, annotator, dest in resolved:
        if dest is None:
            console.out.write(_encodable(annotator.render(report, ctx)))
            console.out.flush()
        else:
            _write_file(dest, _encodable(annotator.render(report, replace(ctx, color=False))), name)
            written.append(dest)
            console.notice(f"{name}: wrote {dest}", style=None)  # a file format prints nothing on stdout
        if (
            ctx.step_summary is not None
            and isinstance(annotator, StepSummaryAnnotator)
            and ctx.step_summary not in written
        ):
            written.append(ctx.step_summary)
            try:
                with open(ctx.step_summary, "a", encoding="utf-8", newline="") as fh:
                    fh.write(_encodable(annotator.render_summary(report, replace(ctx, color=False))))
            except OSError as exc:
                console.notice(f"cannot append to the step summary {ctx.step_summary}: {exc.strerror or exc}")
    return written
