from __future__ import annotations

import json


def parse_order(body: str) -> dict[str, object]:
    return dict(json.loads(body))


def split_line(line: str) -> tuple[str, str, str]:
    sku, qty, price = line.split(",")
    return sku, qty, price


def take_option(options: dict[str, str], name: str) -> str:
    return options.pop(name)


def initials(name: str) -> str:
    return name[0] + name.split(" ")[1][0]


def add_tag(tags: str, tag: str) -> str:
    tags.append(tag)  # type: ignore[attr-defined]
    return tags


def discount_code(customer: dict[str, str] | None) -> str:
    return "VIP" if len(customer) > 3 else "NEW"  # type: ignore[arg-type]


def line_total(price: float, *, quantity: int) -> float:
    return price * quantity


def status_label(status: int) -> str:
    if status == 200:
        label = "ok"
    return label
