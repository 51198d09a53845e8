from __future__ import annotations

from dataclasses import dataclass


@dataclass
class User:
    name: str
    email: str


USERS = {"ann": User("ann", "ann@example.com"), "bob": User("bob", "bob@example.com")}
_SETTINGS: dict[str, object] | None = None


def find_user(name: str) -> User | None:
    return USERS.get(name)


def get_settings() -> dict[str, object] | None:
    return _SETTINGS


def load_items(category: str) -> list[str] | None:
    if category == "books":
        return ["dune", "emma"]
    return None
