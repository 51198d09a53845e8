"""Answer schemas: JSON Schema sent to the provider (strict structured outputs) and the pydantic
models that validate what comes back. Model output is untrusted: anything that does not validate is a
provider fault (BadAnswerError), never a crash. Imported on the miss path only (pydantic).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BadAnswerError

__all__ = ["SCHEMA_VERSION", "json_schema", "parse_results"]

SCHEMA_VERSION = "1"
SEVERITIES = ["critical", "high", "medium", "low", "info"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FindingOut(_Strict):
    checklist: str = ""  # asked for only when one request carries several checklists
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)  # not asked for (tokens); accepted if given
    severity: Literal["critical", "high", "medium", "low", "info"]
    rule: str = Field(min_length=1, max_length=80)
    title: str = Field(min_length=1, max_length=300)
    message: str = Field(max_length=4000)
    suggestion: str = Field(max_length=4000)


class FindingsItem(_Strict):
    id: str
    findings: list[FindingOut]


class AnswerItem(_Strict):
    id: str
    answer: str


class ExplainItem(_Strict):
    id: str
    category: str = Field(max_length=60)
    explanation: str = Field(max_length=6000)
    fix: str = Field(max_length=6000)


_ITEM_MODEL: dict[str, type[_Strict]] = {
    "findings": FindingsItem,
    "answer": AnswerItem,
    "explain": ExplainItem,
}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def json_schema(frame: str, templates: Sequence[str]) -> dict[str, Any]:
    """{"name", "schema"} for response_format json_schema with strict=True (every field required)."""
    s = {"type": "string"}
    if frame == "findings":
        props: dict[str, Any] = {
            "line": {"type": "integer"},
            "severity": {"type": "string", "enum": SEVERITIES},
            "rule": s,
            "title": s,
            "message": s,
            "suggestion": s,
        }
        if len(templates) > 1:  # every schema token is paid on every request: only what is needed
            props = {"checklist": {"type": "string", "enum": list(templates)}, **props}
        finding = _obj(props)
        item = _obj({"id": s, "findings": {"type": "array", "items": finding}})
    elif frame == "answer":
        item = _obj({"id": s, "answer": s})
    else:
        item = _obj({"id": s, "category": s, "explanation": s, "fix": s})
    return {"name": f"{frame}_results", "schema": _obj({"results": {"type": "array", "items": item}})}


def parse_results(frame: str, content: str) -> tuple[list[dict[str, Any]], int]:
    """Validate an answer document: (one plain dict per valid item, number of invalid items and findings dropped).

    Raises BadAnswerError when the document itself is unusable; an invalid item is dropped (its
    work item then counts as unanswered and falls back) rather than spoiling the rest. In a findings
    answer an invalid finding (a line 0, an unknown severity) is dropped on its own and counted, like
    a finding on a line outside its hunk: the item keeps its valid findings and can be cached, instead
    of falling back and being paid for again on every run (#10).
    """
    try:
        doc = json.loads(content)
    except ValueError:
        raise BadAnswerError("the model's answer is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise BadAnswerError("the model's answer has no 'results' list")
    model = _ITEM_MODEL[frame]
    out = []
    dropped = 0
    for entry in doc["results"]:
        bad = 0
        raw = entry
        if frame == "findings" and isinstance(entry, dict) and isinstance(entry.get("findings"), list):
            findings = []
            for f in entry["findings"]:
                try:
                    findings.append(FindingOut.model_validate(f).model_dump())
                except ValidationError:
                    bad += 1
            raw = {**entry, "findings": findings}
        try:
            out.append(model.model_validate(raw).model_dump())
        except ValidationError:
            dropped += 1
            continue
        dropped += bad
    return out, dropped
