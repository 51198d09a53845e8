"""The built-in output formats, registered through the public `register_annotators` hook like a
plugin's (a built-in plugin: see builtin_plugin.py). Imported only when a format is looked up
(`plugins.annotators()`); a replayed hook run prints its stored output and imports none of this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .github import GithubAnnotator
from .gitlab import GitlabAnnotator
from .jsonfmt import JsonAnnotator
from .rdjsonl import RdjsonlAnnotator
from .sarif import SarifAnnotator
from .text import TextAnnotator


def register_annotators(register: Callable[[str, Any], None]) -> None:
    for annotator in (
        TextAnnotator(),
        GithubAnnotator(),
        SarifAnnotator(),
        GitlabAnnotator(),
        JsonAnnotator(),
        RdjsonlAnnotator(),
    ):
        register(annotator.name, annotator)
