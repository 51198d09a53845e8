from shop.legacy import legacy_total


def test_legacy_total():
    assert legacy_total([1, 2]) == 3
