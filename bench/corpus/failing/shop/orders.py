from __future__ import annotations

from dataclasses import dataclass

from shop.invoices import invoice_number


@dataclass
class Order:
    number: int
    customer: object | None = None

    def invoice(self) -> str:
        return invoice_number(self)
