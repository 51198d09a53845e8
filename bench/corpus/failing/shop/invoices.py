from __future__ import annotations

from shop.orders import Order


def invoice_number(order: Order) -> str:
    return f"INV-{order.number:05d}"
