import pytest
from shop import Cart, apply_discount


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("code", "expected"),
    [(None, 1000), ("WELCOME10", 900), ("half", 500), ("STAFF", 700)],
    ids=["no code", "welcome", "half price", "staff"],
)
def test_discount_codes(code, expected):
    assert apply_discount(1000, code) == expected


def test_unknown_code_is_rejected():
    with pytest.raises(ValueError, match="unknown discount code"):
        apply_discount(1000, "FREE")


def test_cart_total_uses_its_code():
    cart = Cart(discount_code="HALF")
    cart.add("CHS", 2)
    assert cart.total_cents == 725
