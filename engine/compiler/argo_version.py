"""Which Argo Workflows version compiled documents are for, and what that changes.

Drover compiles one document for both supported lines, except where they differ in meaning:

- ``retryStrategy.backoff.cap`` (bound one delay) exists from v4.0 only
  (pkg/apis/workflow/v1alpha1/workflow_types.go ``Backoff``: v4.0.10 has ``Cap``, v3.6.19 has
  not; workflow/controller/operator.go ``processNodeRetries`` reads it on v4). A v3.6 Argo
  Server decodes a submitted Workflow into its Go types with ``encoding/json``
  (server/apiserver/argoserver.go ``JSONMarshaler``, util/json/json.go ``Unmarshal``), so a
  ``cap`` is dropped without a word and the delays double without bound.

So ``cap`` is compiled only for a known v4 (``argo_version``); unknown, the documents are
v3.6-compatible: they mean the same on both lines.
"""

from __future__ import annotations

import re

__all__ = ["has_backoff_cap", "parse_argo_version"]

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?")


def parse_argo_version(text: str | None) -> tuple[int, int] | None:
    """``v3.6.19``, ``4.0``, ``v4`` → (major, minor); None when unset or not a version.

    >>> parse_argo_version("v3.6.19"), parse_argo_version("4"), parse_argo_version("latest")
    ((3, 6), (4, 0), None)
    """
    match = _VERSION.match((text or "").strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def has_backoff_cap(argo_version: str | None) -> bool:
    """Whether Argo ``argo_version`` reads ``backoff.cap`` (v4.0 and later)."""
    version = parse_argo_version(argo_version)
    return version is not None and version >= (4, 0)
