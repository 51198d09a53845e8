from shop.receipts import Sale, format_receipt
from shop.users import find_user, get_settings, load_items


def test_new_user_has_email():
    user = find_user("zoe")
    assert user.email.endswith("@example.com")


def test_receipt_names_customer():
    sale = Sale(number=7)
    assert format_receipt(sale).endswith("ann")


def test_settings_port():
    assert get_settings()["port"] == 8080


def test_toys_are_listed():
    names = [item.upper() for item in load_items("toys")]
    assert "LEGO" in names


def test_user_lookup_is_case_insensitive():
    assert find_user("Ann") is not None
