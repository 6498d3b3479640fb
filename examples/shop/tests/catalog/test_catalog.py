import time

import pytest
from shop import CATALOG, find_product


@pytest.mark.smoke
def test_find_product_by_sku():
    assert find_product("apl").name == "Apple"


def test_unknown_product_is_reported():
    with pytest.raises(LookupError, match="unknown product 'XYZ'"):
        find_product("XYZ")


@pytest.mark.parametrize("sku", sorted(CATALOG))
def test_prices_are_positive(sku):
    assert find_product(sku).price_cents > 0


@pytest.mark.slow
def test_full_catalog_scan():
    time.sleep(1)
    assert sum(p.in_stock for p in CATALOG.values()) == 113
