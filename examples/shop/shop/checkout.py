from dataclasses import dataclass

from shop.cart import Cart

FREE_SHIPPING_FROM_CENTS = 2000
SHIPPING_CENTS = 499


@dataclass(frozen=True)
class Order:
    lines: int
    total_cents: int
    shipping_cents: int


class OutOfStock(Exception):
    pass


def checkout(cart: Cart) -> Order:
    if not cart.items:
        raise ValueError("the cart is empty")
    for line in cart.items.values():
        if line.quantity > line.product.in_stock:
            raise OutOfStock(f"only {line.product.in_stock} of {line.product.name} in stock")
    total = cart.total_cents
    shipping = 0 if total >= FREE_SHIPPING_FROM_CENTS else SHIPPING_CENTS
    return Order(lines=len(cart.items), total_cents=total + shipping, shipping_cents=shipping)
