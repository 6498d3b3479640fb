"""Data templates (``data:``), as Argo's executor runs them (``argoexec data``).

``ProcessData`` (workflow/data/data.go) takes the keys under an artifact's location
(``source.artifactPaths``, the driver's ``ListObjects``), passes them through each
``transformation`` step's expression (expr, ``data`` bound to the value so far) and the executor
reports the value, marshalled by Go's ``json.Marshal``, as the node's ``outputs.result``
(workflow/executor/data.go). A failure ends ``argoexec`` with exit code 64 and the error as the
main container's termination message (cmd/argoexec/main.go), each layer wrapping the one below.

Keys come from the local artifact repository, which keeps every s3/gcs/oss/azure artifact under
its key (the bucket is no part of it). Listing follows the S3 driver (workflow/artifacts/s3:
``listObjects``, ``ListDirectory``): every key below ``<key>/``, recursively and in key order;
none there and no key named ``<key>`` either is "no key found of name <key>".
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.backends.local.exprlang import ExprError, evaluate, go_json
from engine.backends.local.scope import repository_location

__all__ = ["ARGOEXEC_ERROR", "DataTemplateError", "process_data"]

ARGOEXEC_ERROR = 64
"""The exit code of ``argoexec`` failing on its own account (cmd/argoexec/main.go)."""


class DataTemplateError(Exception):
    """Why ``argoexec data`` failed, worded as Argo wraps it."""


def process_data(data: Mapping[str, Any], repository: Path) -> str:
    """The node's ``outputs.result``; raises :class:`DataTemplateError`."""
    wrap = "unable to process data template: unable to process data"
    try:
        value = _source(data.get("source") or {}, repository)
    except DataTemplateError as error:
        raise DataTemplateError(f"{wrap} source: {error}") from None
    try:
        value = _transform(value, data.get("transformation") or [])
    except DataTemplateError as error:
        raise DataTemplateError(f"{wrap} transformation: {error}") from None
    return go_json(value)


def _source(source: Mapping[str, Any], repository: Path) -> list[str] | None:
    artifact = source.get("artifactPaths")
    if artifact is None:
        raise DataTemplateError("no valid source is used for data template")
    location = repository_location(artifact)
    if location is None:
        raise DataTemplateError(
            f"unable to source artifact paths: Unsupported artifact driver for {artifact['name']}"
        )
    key = location[1]
    keys = _list_directory(repository, key)
    if not keys:
        if not _key_exists(repository, key):
            raise DataTemplateError(f"unable to source artifact paths: no key found of name {key}")
        return None  # Go's nil slice: marshalled as null
    return keys


def _list_directory(repository: Path, key: str) -> list[str]:
    prefix = posixpath.normpath(key).strip("/") if key else ""
    top = repository / prefix if prefix else repository
    if not top.is_dir():
        return []
    keys = []
    for folder, _dirs, files in os.walk(top):
        relative = Path(folder).relative_to(repository).as_posix()
        keys += [name if relative == "." else f"{relative}/{name}" for name in files]
    return sorted(keys, key=lambda k: k.encode())  # S3 lists keys in UTF-8 byte order


def _key_exists(repository: Path, key: str) -> bool:
    stripped = key.strip("/")
    return bool(stripped) and (repository / stripped).exists()


def _transform(value: Any, steps: list[Mapping[str, Any]]) -> Any:
    for index, step in enumerate(steps):
        expression = step.get("expression")
        if not expression:
            continue
        try:
            value = evaluate(str(expression), {"data": value})
        except ExprError as error:
            raise DataTemplateError(f"error processing data step {index}: {error}") from None
    return value
