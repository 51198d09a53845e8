"""The records every use case produces and every annotator consumes.

Plain frozen dataclasses (stdlib only): a cache hit rebuilds them from stored JSON without pydantic.
Model output is validated by pydantic in `assistant.schema` before it ever becomes a `Finding`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = ["SOURCES", "Explanation", "Failure", "Finding", "Origin", "Report", "Severity", "fingerprint"]

SOURCES = ("api", "cache", "local")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe: critical 4 … info 0."""
        return _RANK[self.value]

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Accepts our names and common synonyms (error, warning, note, major, minor …)."""
        v = value.strip().lower()
        return cls(_SYNONYMS.get(v, v))


_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
_SYNONYMS = {
    "blocker": "critical",
    "error": "high",
    "major": "high",
    "warning": "medium",
    "moderate": "medium",
    "minor": "low",
    "note": "info",
    "notice": "info",
    "information": "info",
}

_WS = re.compile(r"\s+")


def fingerprint(path: str, rule: str, line_content: str) -> str:
    """Stable across edits elsewhere in the file: path, rule and the normalised line, not its number."""
    norm = _WS.sub(" ", line_content).strip()
    # surrogatepass: a file name that is not UTF-8 (git output decoded with surrogateescape) is fingerprinted too
    return hashlib.sha256(f"{path}\0{rule}\0{norm}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Origin:
    """Who reported a finding: an `analyzer` (name = the template it answers for, rule = its rule id) or
    the `model` (name = the template it reviewed with, rule = the id it gave); `via` is how the answer
    arrived (api | cache | local)."""

    kind: str  # analyzer | model
    name: str
    rule: str
    via: str = ""

    def describe(self) -> str:
        """One line: `analyzer security: bandit/B602` or `model (security template): shell-injection`."""
        if not self.name:
            return f"{self.kind}: {self.rule}"
        if self.kind == "analyzer":
            return f"analyzer {self.name}: {self.rule}"
        return f"model ({self.name} template): {self.rule}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "rule": self.rule, "via": self.via}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Origin:
        return cls(str(d["kind"]), str(d.get("name") or ""), str(d.get("rule") or ""), str(d.get("via") or ""))


@dataclass(frozen=True)
class Finding:
    """One problem on changed lines. `line`/`end_line` are 1-based lines of the new file."""

    path: str
    line: int
    end_line: int
    severity: Severity
    rule: str
    title: str
    message: str = ""
    suggestion: str = ""
    source: str = "api"  # api | cache | local
    template: str = ""
    fingerprint: str = ""
    sources: tuple[Origin, ...] = ()  # set when findings were merged (review/merge.py); else see `origins`

    @property
    def origins(self) -> tuple[Origin, ...]:
        """Everyone who reported this finding: the merged sources, or the one this finding names."""
        if self.sources:
            return self.sources
        kind = "analyzer" if self.source == "local" else "model"
        return (Origin(kind, self.template, self.rule, self.source),)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        d["sources"] = [o.to_dict() for o in self.origins]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        found = cls._from_fields(d)
        sources = tuple(Origin.from_dict(o) for o in d.get("sources") or () if isinstance(o, Mapping))
        return found if sources in ((), found.origins) else replace(found, sources=sources)

    @classmethod
    def _from_fields(cls, d: Mapping[str, Any]) -> Finding:
        return cls(
            path=str(d["path"]),
            line=int(d["line"]),
            end_line=int(d.get("end_line") or d["line"]),
            severity=Severity.parse(str(d["severity"])),
            rule=str(d["rule"]),
            title=str(d["title"]),
            message=str(d.get("message") or ""),
            suggestion=str(d.get("suggestion") or ""),
            source=str(d.get("source") or "api"),
            template=str(d.get("template") or ""),
            fingerprint=str(d.get("fingerprint") or ""),
        )

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)


@dataclass(frozen=True)
class Failure:
    """A failing test (or collection error) as the pytest plugin saw it."""

    test_id: str
    when: str  # setup | call | teardown | collect
    longrepr: str
    path: str = ""
    line: int = 0
    exc_type: str = ""
    test_source: str = ""
    code_under_test: str = ""
    # the project functions blamed for it, likeliest first (blame.function_suspect records)
    suspects: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Explanation:
    test_id: str
    category: str
    explanation: str
    fix: str
    source: str = "api"  # api | cache | local
    path: str = ""
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """What one run produced: the input of every annotator."""

    kind: str = "review"  # review | pytest
    findings: tuple[Finding, ...] = ()
    explanations: tuple[Explanation, ...] = ()
    hunks: int = 0
    files: int = 0
    cache_hits: int = 0
    api_requests: int = 0
    failed_tries: int = 0  # HTTP requests tried without a usable answer
    local_answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0
    redactions: int = 0
    dropped: int = 0
    suppressed: int = 0
    fallback_reason: str | None = None
    skipped: Mapping[str, int] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    def max_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)
