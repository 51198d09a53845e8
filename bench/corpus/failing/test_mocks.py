from unittest import mock

from shop.inventory import restock


def test_notifier_called_with_sku():
    notify = mock.Mock()
    restock("SKU-2", 3)
    notify("SKU-2", 3)
    notify.assert_called_once_with("SKU-2", 5)
