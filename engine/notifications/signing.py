"""Webhook signatures, as Stripe signs its webhooks: ``Drover-Signature: t=<unix>,v1=<hex>``
where ``v1`` is HMAC-SHA256 over ``"<t>.<raw body>"`` with the subscription's secret. The
timestamp inside the signed text lets a receiver reject replays older than a tolerance."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER: Final = "Drover-Signature"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (seconds since the epoch)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(header: str, secret: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """True when one ``v1`` of ``header`` signs ``body`` with ``secret`` and ``t`` is within
    ``tolerance`` seconds of ``now`` (several ``v1`` appear while a secret is rotated)."""
    parts = [p.partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(v.strip(), expected) for k, _, v in parts if k.strip() == "v1")
