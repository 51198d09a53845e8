from __future__ import annotations

import re


def slugify(title: str) -> str:
    return re.sub(r"\W+", "_", title.strip().lower())


def is_valid_email(address: str) -> bool:
    return re.fullmatch(r"[a-z]+@[a-z]+\.[a-z]{3,}", address) is not None


def parse_config(text: str) -> dict[str, object]:
    result: dict[str, object] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        result[key] = True if value == "true" else value
    return result


def sorted_names(users: list[dict[str, str]]) -> list[str]:
    return sorted((u["name"] for u in users), reverse=True)


def extract_order_id(subject: str) -> str:
    return re.match(r"Order #(\d+)", subject).group(1)  # type: ignore[union-attr]


def greeting(name: str, visits: int) -> str:
    return "Welcome back " + name + ", visit number " + visits  # type: ignore[operator]
