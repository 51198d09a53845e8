"""Batching for a miss: pack the unanswered items into requests, and take the answer document apart.

Items that need the same templates share a request, and a request holds as many items as the token
limit allows (the instructions are paid once per request, not once per item). The answer comes back
as one document: `split` turns it into data per (item, template), and `redact_answers` cleans it
before it is cached or shown. Imported only on a miss: a cache hit never loads this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SecretScanError
from ..scan.redact import redact
from .pricing import estimate_tokens
from .request import Item, Pair, Request

Chunk = tuple[tuple[str, ...], list[Item]]


def plan(request: Request, missing: Sequence[Pair], limit: int) -> tuple[list[Chunk], int]:
    """The requests that answer `missing`, each with the templates its items still need, in the
    request's template order; and how many distinct items they hold."""
    wanted: dict[str, set[str]] = {}
    order: list[Item] = []
    for it, name in missing:
        if it.id not in wanted:
            wanted[it.id] = set()
            order.append(it)
        wanted[it.id].add(name)
    by_templates: dict[tuple[str, ...], list[Item]] = {}
    for it in order:
        by_templates.setdefault(tuple(n for n in request.templates if n in wanted[it.id]), []).append(it)
    chunks: list[Chunk] = []
    for names, items in by_templates.items():
        chunks += [(names, c) for c in pack(request, items, limit)]
    return chunks, len(order)


def pack(request: Request, items: list[Item], limit: int) -> list[list[Item]]:
    """`items` in order, cut into requests of at most `limit` estimated tokens (one each if plain)."""
    if request.plain:
        return [[it] for it in items]
    chunks: list[list[Item]] = [[]]
    used = 0
    for it in items:
        cost = estimate_tokens(it.content) + estimate_tokens(it.label) + 12
        if chunks[-1] and used + cost > limit:
            chunks.append([])
            used = 0
        chunks[-1].append(it)
        used += cost
    return chunks


def split(
    frame: str, names: tuple[str, ...], items: list[Item], parsed: list[dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """One answer document → data per (item, template). Unknown ids are ignored (never trusted)."""
    ids = {it.id for it in items}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in parsed:
        item_id = entry.get("id")
        if item_id not in ids:
            continue
        if frame == "findings":
            per: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
            for f in entry["findings"]:
                checklist = f.pop("checklist", "")
                per[checklist if checklist in per else names[0]].append(f)
            for n in names:
                out[(item_id, n)] = {"findings": per[n]}
        else:
            data = {k: v for k, v in entry.items() if k != "id"}
            for n in names:
                out[(item_id, n)] = data
    return out


def redact_answers(
    answers: Mapping[tuple[str, str], dict[str, Any]],
) -> tuple[dict[tuple[str, str], dict[str, Any]], int]:
    """Model output redacted like the input, before it is cached or shown (docs/reference.md#output-escaping): the
    model never sees a secret of ours, but may still write one. Returns the answers and the count."""
    count = 0

    def clean(value: Any) -> Any:
        nonlocal count
        if isinstance(value, str):
            try:
                text, found = redact(value)
            except SecretScanError:
                return "[withheld: the secret scan failed on this text]"
            count += len(found)
            return text
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {key: clean(data) for key, data in answers.items()}, count
