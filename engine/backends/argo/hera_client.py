"""Hera's ``WorkflowsService``, set up for Drover: retries, TLS, token, errors and model checks.

Hera's quirks handled here: the host keeps its trailing '/', the
namespace is always passed, the token is re-read per call (rotated tokens), its pydantic
``.json()`` deprecation warnings are silenced, and its exceptions become Drover errors.
Hera's models target Argo v4.0.5 and silently drop fields they do not know, so a manifest is
converted only if nothing is lost (:func:`to_hera_workflow`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import requests
from hera import exceptions as hera_errors
from hera.workflows import models as m
from hera.workflows.service import WorkflowsService
from pydantic import ValidationError
from pydantic.warnings import PydanticDeprecatedSince20
from requests.adapters import HTTPAdapter

from engine.backends.argo.failures import error_for_status, urllib3_retry
from engine.backends.argo.settings import ArgoSettings
from engine.errors import BackendError, SpecError

__all__ = ["HeraClient", "to_hera_workflow"]

T = TypeVar("T")

_STATUS_OF_HERA_ERROR: dict[type[Exception], int] = {
    hera_errors.Unauthorized: 401,
    hera_errors.BadRequest: 400,
    hera_errors.Forbidden: 403,
    hera_errors.NotFound: 404,
    hera_errors.AlreadyExists: 409,
    hera_errors.InternalServerError: 500,
    hera_errors.NotImplemented: 501,
}


def _lost_fields(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Paths present in ``sent`` but missing from ``kept`` (what a model dropped)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        lost: list[str] = []
        for key, value in sent.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in kept:
                if value is not None:
                    lost.append(where)
            else:
                lost.extend(_lost_fields(value, kept[key], where))
        return lost
    if isinstance(sent, list) and isinstance(kept, list):
        lost = []
        for index, (a, b) in enumerate(zip(sent, kept, strict=False)):
            lost.extend(_lost_fields(a, b, f"{path}[{index}]"))
        return lost
    return []


def to_hera_workflow(workflow: dict[str, Any]) -> m.Workflow:
    """The Hera model of a Workflow manifest; raises SpecError if the model would drop fields."""
    try:
        model = m.Workflow.model_validate(workflow)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(where, f"not a valid Argo Workflow: {first['msg']}") from error
    kept = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    lost = _lost_fields(workflow, kept)
    if lost:
        raise SpecError(
            lost[0],
            f"Hera's Argo models do not know {len(lost)} field(s) ({', '.join(lost[:5])})",
            "the Argo Server version Drover submits to is newer than Hera's models",
        )
    return model


class HeraClient:
    """Runs Hera service calls with Drover's settings and error mapping."""

    def __init__(self, settings: ArgoSettings) -> None:
        self.settings = settings
        retry = urllib3_retry(settings.retry)
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def service(self) -> WorkflowsService:
        return WorkflowsService(
            host=self.settings.base_url,
            token=self.settings.bearer_token(),
            # Hera hands this to requests, which also takes a CA bundle path.
            verify_ssl=cast(bool, self.settings.tls_verify()),
            namespace=self.settings.namespace,
            session=self.session,
        )

    def call(self, what: str, action: Callable[[WorkflowsService], T]) -> T:
        """Run ``action`` against a fresh service; Hera and transport errors become Drover's."""
        server = f"Argo Server {self.settings.base_url}"
        try:
            with _quiet_pydantic():
                return action(self.service())
        except hera_errors.HeraException as error:
            status = _STATUS_OF_HERA_ERROR.get(type(error), _status_in_message(str(error)))
            raise error_for_status(
                status, _hera_message(str(error)), what=what, server=server
            ) from error
        except requests.ConnectionError as error:
            raise BackendError(f"cannot reach {server} to {what}: {error}") from error
        except requests.Timeout as error:
            raise BackendError(f"{server} timed out on {what}") from error
        except requests.RequestException as error:
            raise BackendError(f"{what} at {server} failed: {error}") from error


@contextmanager
def _quiet_pydantic() -> Iterator[None]:
    # Hera serialises requests with pydantic's deprecated `.json()`.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticDeprecatedSince20)
        yield


def _status_in_message(text: str) -> int:
    # "Server returned status code 503 with message: `...`"
    marker = "status code "
    if marker in text:
        digits = text.split(marker, 1)[1][:3]
        if digits.isdigit():
            return int(digits)
    return 500


def _hera_message(text: str) -> str:
    if "with message: `" in text:
        return text.split("with message: `", 1)[1].rstrip("`")
    return text
