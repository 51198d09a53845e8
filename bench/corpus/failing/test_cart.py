import unittest

from shop.cart import Cart, Item, apply_discount, average, convert, split_evenly


def test_total_counts_quantities():
    cart = Cart()
    cart.add(Item("SKU-1", 10.0, qty=2))
    cart.add(Item("SKU-2", 5.0, qty=2))
    assert cart.total() == 30.0


def test_subtotal_of_cheap_items():
    cart = Cart()
    cart.add(Item("SKU-7", 0.1))
    cart.add(Item("SKU-8", 0.2))
    assert cart.subtotal() == 0.3


def test_convert_to_euro():
    assert convert(1.1, rate=3) == 3.3


def test_average_of_no_ratings():
    ratings: list[float] = []
    assert average(ratings) == 0


def test_discount_with_currency():
    assert apply_discount(100, 10, "EUR") == 90


def test_item_needs_price():
    item = Item("SKU-9")
    assert item.qty == 1


def test_cart_typo():
    cart = Cart()
    assert cart.totl() == 0


def test_split_bill_keeps_every_cent():
    shares = split_evenly(100, 3)
    assert sum(shares) == 100


class DiscountTest(unittest.TestCase):
    def test_ten_percent(self):
        self.assertEqual(apply_discount(100, 10), 80)  # noqa: PT009 (unittest style on purpose)
