"""Human durations ("90s", "5m", "1h30m", 45) as whole seconds, the way Argo and Go spell them."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["MAX_SECONDS", "Seconds", "parse_duration"]

MAX_SECONDS = 2**31 - 1
"""The longest deadline: Kubernetes refuses a pod whose ``activeDeadlineSeconds`` is above it
(``ValidatePodSpec``, pkg/apis/core/validation/validation.go), and Argo turns a template's and
the workflow's into one (``createWorkflowPod``, workflow/controller/workflowpod.go)."""

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: object) -> int:
    """Return whole seconds for an int or a Go-style duration string such as ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90, '90s', '5m' or '1h30m'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, str) and value.strip():
        match = _DURATION.fullmatch(value.strip())
        if match is None or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration; use e.g. 90, '90s', '5m' or '1h30m'")
        days, hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError("expected a duration such as 90, '90s', '5m' or '1h30m'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{seconds} s is longer than Kubernetes allows a pod's or workflow's deadline "
            f"({MAX_SECONDS} s, about 68 years); leave it out for no deadline"
        )
    return seconds


Seconds = Annotated[int, BeforeValidator(parse_duration)]
"""A positive number of seconds, accepting Go-style duration strings on input."""
