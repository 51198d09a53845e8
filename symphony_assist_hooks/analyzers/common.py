"""What every local analyzer shares: the `Target` they read, the two protocols, and finding helpers.

Local analyzers answer when the model cannot (no key, no network, budget spent). A diff analyzer reports
findings only on the lines the change added or modified: the rest of the file is context, never a finding.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Protocol

from ..findings import Explanation, Failure, Finding, Severity, fingerprint

__all__ = [
    "Analysis",
    "Analyzer",
    "FailureAnalyzer",
    "Target",
    "enclosing_functions",
    "is_test_path",
    "language_of",
    "make_finding",
]

_SUFFIXES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".rb": "ruby",
    ".go": "go",
    ".java": "java",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".env": "dotenv",
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".html": "html",
    ".css": "css",
    ".sql": "sql",
    ".tf": "terraform",
}
_NAMES = {"dockerfile": "dockerfile", "makefile": "make", ".env": "dotenv", "containerfile": "dockerfile"}


def language_of(path: str) -> str:
    """The language of a repo-relative path from its name ("" when unknown)."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if name in _NAMES:
        return _NAMES[name]
    if name.startswith(".env.") or name.endswith(".env"):
        return "dotenv"
    if name.startswith("dockerfile"):
        return "dockerfile"
    return _SUFFIXES.get(p.suffix.lower(), "")


from ..scan.redact import is_test_path  # noqa: E402 - one definition, shared with the review's secret policy


@dataclass(frozen=True)
class Target:
    """One changed file as the analyzers see it: its new content and the lines the change touched."""

    path: str  # repo-relative, "/"-separated
    text: str  # the new content (what will be committed)
    changed_lines: frozenset[int]  # 1-based lines of the new file added or modified by the change
    language: str = ""  # derived from the path when empty

    def __post_init__(self) -> None:
        if not self.language:
            object.__setattr__(self, "language", language_of(self.path))

    @classmethod
    def whole_file(cls, path: str, text: str, language: str = "") -> Target:
        """A target whose every line counts as changed (new files, `--all-files` runs)."""
        return cls(path, text, frozenset(range(1, len(text.splitlines()) + 1)), language)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def line(self, number: int) -> str:
        """The text of a 1-based line ("" past the end)."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def anchor(self, start: int, end: int | None = None) -> int | None:
        """The first changed line in [start, end], or None when the range touches no changed line."""
        if start in self.changed_lines:
            return start
        stop = max(start, end or start)
        return next((n for n in range(start + 1, stop + 1) if n in self.changed_lines), None)


@dataclass
class Analysis:
    """What one diff analyzer produced: findings plus one-line notices (a tool missing, a file skipped)."""

    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


class Analyzer(Protocol):
    """Reviews changed files offline for one template ("security", "code_review").

    `review` returns findings only on changed lines, each with source="local", template=name and a
    fingerprint. Analyzers that also have `analyze(targets) -> Analysis` get their notices reported.
    """

    name: str

    def review(self, targets: Sequence[Target]) -> list[Finding]: ...


class FailureAnalyzer(Protocol):
    """Explains one failing test offline for one template ("testing")."""

    name: str

    def explain(self, failure: Failure) -> Explanation: ...


def make_finding(
    target: Target,
    line: int,
    *,
    rule: str,
    title: str,
    severity: Severity,
    template: str,
    end_line: int | None = None,
    message: str = "",
    suggestion: str = "",
) -> Finding | None:
    """A local finding anchored to the first changed line of [line, end_line]; None if none changed."""
    anchor = target.anchor(line, end_line)
    if anchor is None:
        return None
    return Finding(
        path=target.path,
        line=anchor,
        end_line=max(anchor, end_line or anchor),
        severity=severity,
        rule=rule,
        title=title,
        message=message,
        suggestion=suggestion,
        source="local",
        template=template,
        fingerprint=fingerprint(target.path, rule, target.line(anchor)),
    )


def enclosing_functions(tree: ast.AST) -> dict[int, str]:
    """Line → qualified name of the innermost function or class around it (for messages)."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                for n in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    owner[n] = name
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return owner
