from dataclasses import dataclass, field

from shop.catalog import Product, find_product
from shop.discounts import apply_discount


@dataclass
class LineItem:
    product: Product
    quantity: int

    @property
    def total_cents(self) -> int:
        return self.product.price_cents * self.quantity


@dataclass
class Cart:
    items: dict[str, LineItem] = field(default_factory=dict)
    discount_code: str | None = None

    def add(self, sku: str, quantity: int = 1) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        product = find_product(sku)
        line = self.items.setdefault(product.sku, LineItem(product, 0))
        line.quantity += quantity

    def remove(self, sku: str) -> None:
        self.items.pop(sku.upper(), None)

    @property
    def subtotal_cents(self) -> int:
        return sum(line.total_cents for line in self.items.values())

    @property
    def total_cents(self) -> int:
        return apply_discount(self.subtotal_cents, self.discount_code)
