"""A tiny shop: a product catalog, a cart with totals and discount codes, and a checkout."""

from shop.cart import Cart, LineItem
from shop.catalog import CATALOG, Product, find_product
from shop.checkout import Order, checkout
from shop.discounts import apply_discount

__all__ = [
    "CATALOG",
    "Cart",
    "LineItem",
    "Order",
    "Product",
    "apply_discount",
    "checkout",
    "find_product",
]
