from __future__ import annotations

STOCK = {"SKU-1": 0, "SKU-2": 14, "SKU-3": 2, "SKU-4": 1}
PRICES = {"SKU-1": 9.5, "SKU-2": 3.25, "SKU-3": 12.0}


class OutOfStockError(Exception):
    pass


def low_stock(threshold: int = 3) -> list[str]:
    return [sku for sku, count in STOCK.items() if count < threshold]


def price_of(sku: str) -> float:
    return PRICES[sku]


def reserve(sku: str, qty: int) -> None:
    available = STOCK[sku]
    if available < qty:
        raise OutOfStockError(f"{sku} has {available} left, {qty} requested")
    STOCK[sku] = available - qty


def restock(sku: str, qty: int) -> None:
    if qty <= 0:
        raise ValueError(f"quantity must be positive, got {qty}")
    STOCK[sku] = STOCK.get(sku, 0) + qty


def first_backorder(orders: list[str]) -> str:
    pending = [sku for sku in orders if STOCK.get(sku, 0) == 0]
    return pending[0]
