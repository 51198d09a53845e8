"""The built-in analyzers, registered through the public `register_analyzers` hook like a plugin's
(a built-in plugin: see builtin_plugin.py), each keyed by the template it answers for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..explainers import TestingAnalyzer
from .code_review import CodeReviewAnalyzer
from .security import SecurityAnalyzer


def register_analyzers(register: Callable[[str, Any], None]) -> None:
    register("security", SecurityAnalyzer())
    register("code_review", CodeReviewAnalyzer())
    register("testing", TestingAnalyzer())
