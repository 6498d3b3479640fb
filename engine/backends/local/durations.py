"""Argo duration strings: ``"20"`` (seconds), ``"2m"``, ``"1h30m"``, ``"500ms"``, ``"1d"``."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["parse_duration"]

_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_duration(text: str | int | float) -> float:
    """Seconds in an Argo duration; a bare number means seconds. Raises ValueError."""
    if isinstance(text, int | float):
        return float(text)
    raw = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return float(raw)
    position = 0
    total = 0.0
    for match in _PART.finditer(raw):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(raw) or not raw:
        raise ValueError(f"invalid duration '{text}'")
    return total
