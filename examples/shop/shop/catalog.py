from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int
    in_stock: int


CATALOG: dict[str, Product] = {
    p.sku: p
    for p in [
        Product("APL", "Apple", 50, 100),
        Product("BRD", "Bread", 250, 10),
        Product("CHS", "Cheese", 725, 3),
        Product("WNE", "Wine", 1299, 0),
    ]
}


def find_product(sku: str) -> Product:
    try:
        return CATALOG[sku.upper()]
    except KeyError:
        raise LookupError(f"unknown product {sku!r}") from None
