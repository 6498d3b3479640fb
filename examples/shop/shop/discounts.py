"""Discount codes: percentages off the subtotal, capped so a total never goes negative."""

CODES: dict[str, int] = {"WELCOME10": 10, "HALF": 50, "STAFF": 30}


def apply_discount(subtotal_cents: int, code: str | None) -> int:
    if code is None:
        return subtotal_cents
    percent = CODES.get(code.upper())
    if percent is None:
        raise ValueError(f"unknown discount code {code!r}")
    return subtotal_cents - subtotal_cents * percent // 100
