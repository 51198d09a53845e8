"""Scripted model behaviour for the fake server: answers our structured prompts item by item."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

ITEM = re.compile(r"^## (h\d+|q\d+|f\d+|\S+)(?: (.*))?$", re.MULTILINE)


def items_of(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, label, content) of every item in a recorded request body."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    marks = list(ITEM.finditer(user))
    out = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else user.rfind("</data-")
        out.append((m.group(1), m.group(2) or "", user[m.end() + 1 : end].rstrip("\n")))
    return out


def frame_of(body: dict[str, Any]) -> str:
    """findings | answer | explain: from the json_schema's name, else from the schema's item fields
    (json_object carries the bare schema, the text dialect only its copy in the system prompt)."""
    rf = body.get("response_format") or {}
    name = (rf.get("json_schema") or {}).get("name", "")
    if name:
        return str(name).removesuffix("_results")
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    schema = json.dumps(rf.get("schema")) if rf.get("schema") else system
    for frame, field in (("findings", '"findings"'), ("answer", '"answer"')):
        if field in schema:
            return frame
    return "explain" if '"explanation"' in schema else ""


def answering(
    findings: Callable[[str, str, str], list[dict[str, Any]]] | None = None,
    answer: Callable[[str], str] | None = None,
    *,
    plain: bool = True,
) -> Callable[[dict[str, Any]], Any]:
    """A responder: every item gets an answer; `findings(id, label, content)` scripts review findings.

    A plain question (no response_format, no delimited items) gets plain text back, unless `plain` is
    False (the cost benchmark's naive reviewer: its answer is counted, and must stay as it was measured).
    """

    def respond(body: dict[str, Any]) -> Any:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if plain and "response_format" not in body and "<data-" not in user:  # a plain question: text back
            return answer(user) if answer else f"answer to: {user}"
        frame = frame_of(body)
        results = []
        for item_id, label, content in items_of(body):
            if frame == "findings":
                results.append({"id": item_id, "findings": findings(item_id, label, content) if findings else []})
            elif frame == "answer":
                results.append({"id": item_id, "answer": answer(content) if answer else f"answer to: {content}"})
            else:
                results.append(
                    {
                        "id": item_id,
                        "category": "assertion-mismatch",
                        "explanation": f"explained {label}",
                        "fix": "fix it",
                    }
                )
        return json.dumps({"results": results})

    return respond


NUMBERED = re.compile(r"^(\d+)\+(.*)$")


def numbered_lines(content: str) -> list[tuple[int, bool, str]]:
    """(hunk-local number, added?, text) of each added line of a hunk as we send it (only added
    lines carry their number)."""
    out = []
    for line in content.splitlines():
        m = NUMBERED.match(line)
        if m:
            out.append((int(m.group(1)), True, m.group(2)))
    return out


def finding(
    line: int,
    *,
    rule: str = "logic-error",
    severity: str = "high",
    checklist: str = "code_review",
    title: str = "a problem",
) -> dict[str, Any]:
    return {
        "checklist": checklist,
        "line": line,
        "end_line": line,
        "severity": severity,
        "rule": rule,
        "title": title,
        "message": "explained",
        "suggestion": "do better",
    }
