"""Argo duration strings: ``"20"`` (seconds), ``"2m"``, ``"1h30m"``, ``"500ms"``, ``"1d"``."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["go_duration_string", "parse_duration"]

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


def go_duration_string(seconds: float) -> str:
    """Go's ``time.Duration.String``: ``"1m0s"``, ``"3s"``, ``"1.5s"``, ``"500ms"``, ``"0s"``."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign, value = ("-" if nanos < 0 else ""), abs(nanos)
    if value < 1_000_000_000:
        unit, size = (
            ("ns", 1)
            if value < 1_000
            else ("µs", 1_000)
            if value < 1_000_000
            else ("ms", 1_000_000)
        )
        whole, fraction = divmod(value, size)
        digits = f"{fraction:0{len(str(size)) - 1}d}".rstrip("0") if fraction else ""
        return f"{sign}{whole}{'.' + digits if digits else ''}{unit}"
    whole_seconds, fraction = divmod(value, 1_000_000_000)
    digits = f"{fraction:09d}".rstrip("0") if fraction else ""
    text = f"{whole_seconds % 60}{'.' + digits if digits else ''}s"
    minutes = whole_seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text
