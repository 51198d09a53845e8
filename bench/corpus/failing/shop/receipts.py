from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Customer:
    name: str


@dataclass
class Sale:
    number: int
    customer: Customer | None = None


def format_receipt(sale: Sale) -> str:
    return f"Receipt {sale.number} for {sale.customer.name}"  # type: ignore[union-attr]
