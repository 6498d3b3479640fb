"""Argo's two ways of shrinking ``status.nodes``, undone so every consumer sees plain nodes.

- ``status.compressedNodes``: when the controller is configured to compress (or the object nears
  etcd's size limit), it writes the JSON node map gzipped and base64-encoded there and drops
  ``status.nodes``.
- ``status.offloadNodeStatusVersion``: with ``persistence.nodeStatusOffLoad`` the nodes live in
  Postgres (``argo_workflows``) and the object carries only this version; the Argo Server's GET
  returns the workflow hydrated, so the fix is I/O (see ``needs_hydration``), not decoding.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import zlib
from typing import Any

from engine.errors import BackendError

__all__ = [
    "compress_nodes",
    "decompress_nodes",
    "inflate_status",
    "needs_hydration",
]


def decompress_nodes(encoded: str) -> dict[str, Any]:
    """``status.compressedNodes`` → the node map (base64 of gzip of JSON, as Argo writes it)."""
    try:
        raw = gzip.decompress(base64.b64decode(encoded, validate=True))
        nodes = json.loads(raw)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as error:
        raise BackendError(f"status.compressedNodes is not base64 gzip JSON: {error}") from error
    if not isinstance(nodes, dict):
        raise BackendError("status.compressedNodes does not hold a node map (JSON object)")
    return nodes


def compress_nodes(nodes: dict[str, Any]) -> str:
    """The inverse of :func:`decompress_nodes` (used by tests and fixtures)."""
    raw = json.dumps(nodes, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def inflate_status(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow with ``status.compressedNodes`` decoded into ``status.nodes``.

    Returns ``workflow`` itself when there is nothing to decode, else a copy (the input is
    never modified).
    """
    status = workflow.get("status")
    if not isinstance(status, dict) or not status.get("compressedNodes"):
        return workflow
    nodes = decompress_nodes(status["compressedNodes"])
    inflated = copy.copy(workflow)
    inflated["status"] = {k: v for k, v in status.items() if k != "compressedNodes"}
    inflated["status"]["nodes"] = nodes
    return inflated


def needs_hydration(workflow: dict[str, Any]) -> bool:
    """True when the nodes were offloaded to the database and this copy lacks them."""
    status = workflow.get("status")
    if not isinstance(status, dict):
        return False
    return bool(status.get("offloadNodeStatusVersion")) and not status.get("nodes")
