from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Category:
    name: str
    parent: Category | None = None
    children: list[Category] = field(default_factory=list)


def depth(category: Category) -> int:
    # Bug: a category that is its own ancestor never reaches the root.
    if category.parent is None:
        return 0
    return 1 + depth(category.parent)
