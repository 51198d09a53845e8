def test_model_fits():
    from sklearn.linear_model import LinearRegression

    model = LinearRegression()
    assert model is not None


def test_scrape_title():
    from bs4 import BeautifulSoup

    soup = BeautifulSoup("<title>Shop</title>", "html.parser")
    assert soup.title.string == "Shop"


def test_price_with_tax():
    from shop.pricng import price_with_tax

    assert price_with_tax(100) == 120


def test_cart_item_alias():
    from shop.cart import CartItem

    assert CartItem is not None


def test_invoice_number():
    from shop.orders import Order

    assert Order(number=12).invoice() == "INV-00012"
