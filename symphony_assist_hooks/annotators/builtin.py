"""The built-in output formats, registered through the public `register_annotators` hook like a
plugin's (a built-in plugin: see builtin_plugin.py).

Each is registered as a `Deferred` format: its module is imported when the format is first used, not
when the hook runs. A cached review prints text, and importing all six formats costs ~9 ms against
~1 ms for text alone (fresh interpreters, 2 cores); the hook registers them all on every review.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Annotator  # deferred: until this format is used


class Deferred:
    """An annotator built on first use: `name` is known at once, every other attribute (`default_stream`,
    `render`, `render_summary`) comes from the annotator `build` returns."""

    def __init__(self, name: str, build: Callable[[], Annotator]) -> None:
        self.name = name
        self._build = build
        self._annotator: Annotator | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        if self._annotator is None:
            self._annotator = self._build()
        return getattr(self._annotator, attr)


# Each format's module is imported inside its builder: deferred until the format is used (module docstring).
def _text() -> Annotator:
    from .text import TextAnnotator  # deferred: until this format is used

    return TextAnnotator()


def _github() -> Annotator:
    from .github import GithubAnnotator  # deferred: until this format is used

    return GithubAnnotator()


def _sarif() -> Annotator:
    from .sarif import SarifAnnotator  # deferred: until this format is used

    return SarifAnnotator()


def _gitlab() -> Annotator:
    from .gitlab import GitlabAnnotator  # deferred: until this format is used

    return GitlabAnnotator()


def _json() -> Annotator:
    from .jsonfmt import JsonAnnotator  # deferred: until this format is used

    return JsonAnnotator()


def _rdjsonl() -> Annotator:
    from .rdjsonl import RdjsonlAnnotator  # deferred: until this format is used

    return RdjsonlAnnotator()


def register_annotators(register: Callable[[str, Any], None]) -> None:
    for name, build in (
        ("text", _text),
        ("github", _github),
        ("sarif", _sarif),
        ("gitlab", _gitlab),
        ("json", _json),
        ("rdjsonl", _rdjsonl),
    ):
        register(name, Deferred(name, build))
