from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    price: float
    qty: int = 1


@dataclass
class Cart:
    items: list[Item] = field(default_factory=list)
    coupon: str | None = None

    def add(self, item: Item) -> None:
        self.items.append(item)

    def subtotal(self) -> float:
        return sum(item.price * item.qty for item in self.items)

    def total(self) -> float:
        # Bug: the quantity is ignored.
        return sum(item.price for item in self.items)


def apply_discount(price: float, percent: float) -> float:
    return price - price * percent / 100


def average(values: list[float]) -> float:
    return sum(values) / len(values)


def convert(amount: float, rate: float) -> float:
    return amount * rate


def split_evenly(amount: int, people: int) -> list[int]:
    share = amount // people
    return [share] * people
