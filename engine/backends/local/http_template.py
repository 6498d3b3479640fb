"""Executing an Argo ``http`` template: one real HTTP request and its success condition.

Argo runs HTTP templates in its agent, not in a pod: the request is made with the template's
method, URL, headers (``value`` or ``valueFrom.secretKeyRef``) and body, within
``timeoutSeconds``; ``successCondition`` is an expr expression over ``response.statusCode``,
``response.body`` (text) and ``response.headers`` (canonical names → lists of values, as Go's
``http.Header``). Without a condition, a 2xx status succeeds. The body becomes
``outputs.result``. A request that cannot complete (refused, timed out) fails the node.

The caller (the runner) substitutes ``{{...}}`` first and wires phases into the node:

    outcome = execute_http_template(template["http"], resolve_secret=lookup)
    node phase = outcome.phase, node outputs = outcome.outputs, node message = outcome.message
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from engine.backends.local.exprlang import ExprError, eval_bool

__all__ = [
    "ConditionError",
    "HttpOutcome",
    "SecretResolver",
    "evaluate_condition",
    "execute_http_template",
]

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
_BODY_LIMIT: Final = 256 * 1024

SecretResolver = Callable[[str, str], str | None]
"""(secret name, key) → value, or None when the Secret or key does not exist."""


@dataclass(frozen=True)
class HttpOutcome:
    phase: Literal["Succeeded", "Failed", "Error"]
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class ConditionError(ValueError):
    """A success condition that cannot be parsed or evaluated."""


def execute_http_template(
    http: dict[str, Any],
    *,
    resolve_secret: SecretResolver,
    client: httpx.Client | None = None,
) -> HttpOutcome:
    """Make the request of an (already substituted) ``http`` template; never raises."""
    method = str(http.get("method") or "GET").upper()
    url = str(http.get("url") or "")
    if not url:
        return HttpOutcome("Error", message="http.url is empty")
    headers: list[tuple[str, str]] = []
    for header in http.get("headers") or []:
        name = str(header.get("name", ""))
        if "value" in header:
            headers.append((name, str(header["value"])))
            continue
        ref = ((header.get("valueFrom") or {}).get("secretKeyRef")) or {}
        value = resolve_secret(str(ref.get("name", "")), str(ref.get("key", "")))
        if value is None:
            return HttpOutcome(
                "Error",
                message=f"header {name!r}: secret '{ref.get('name')}' "
                f"has no key '{ref.get('key')}'",
            )
        headers.append((name, value))
    timeout = float(http.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    body = http.get("body")
    owned = client is None
    session = client or httpx.Client(verify=not http.get("insecureSkipVerify"))
    try:
        response = session.request(
            method,
            url,
            headers=headers,
            content=None if body is None else str(body).encode(),
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return HttpOutcome("Failed", message=f"{method} {url}: no response within {timeout:g}s")
    except httpx.HTTPError as error:
        return HttpOutcome("Failed", message=f"{method} {url}: {error}")
    finally:
        if owned:
            session.close()
    text = response.text[:_BODY_LIMIT]
    outputs: dict[str, Any] = {"result": text}
    condition = http.get("successCondition")
    if not condition:
        if 200 <= response.status_code < 300:
            return HttpOutcome("Succeeded", outputs)
        return HttpOutcome(
            "Failed", outputs, f"received non-2xx response code: {response.status_code}"
        )
    scope = {
        "response": {
            "statusCode": response.status_code,
            "body": text,
            "headers": _go_headers(response.headers),
        },
        "request": {"method": method, "url": url, "body": "" if body is None else str(body)},
    }
    try:
        succeeded = evaluate_condition(str(condition), scope)
    except ConditionError as error:
        return HttpOutcome("Error", outputs, f"successCondition {condition!r}: {error}")
    if succeeded:
        return HttpOutcome("Succeeded", outputs)
    return HttpOutcome(
        "Failed",
        outputs,
        f"successCondition {condition!r} evaluated false (status {response.status_code})",
    )


def _go_headers(headers: httpx.Headers) -> dict[str, list[str]]:
    """Go's ``http.Header``: canonical names (``Content-Type``) to lists of values."""
    out: dict[str, list[str]] = {}
    for name, value in headers.multi_items():
        canonical = "-".join(part.capitalize() for part in name.split("-"))
        out.setdefault(canonical, []).append(value)
    return out


# ---------------------------------------------------------------------------- expr subset


def evaluate_condition(text: str, scope: dict[str, Any]) -> bool:
    """Evaluate an expr success condition (Argo's ``argoexpr.EvalBool``); it must yield a
    boolean. The same expr-lang evaluator as ``{{=...}}`` tags and ``when`` expressions."""
    if not text.strip():
        raise ConditionError("the condition is empty")
    try:
        return eval_bool(text, scope)
    except ExprError as error:
        raise ConditionError(str(error)) from None
