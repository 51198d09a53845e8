from __future__ import annotations

REGISTRY: list[str] = []


def register(name: str) -> None:
    REGISTRY.append(name)
