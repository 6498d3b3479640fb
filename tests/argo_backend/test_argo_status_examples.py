"""Argo's recorded statuses survive Drover's decoding: plain, compressedNodes, and offloaded."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engine.backends.argo import ArgoBackend, compress_nodes, decompress_nodes, inflate_status
from engine.backends.argo.status_codec import needs_hydration
from engine.errors import BackendError
from tests.argo_backend.conftest import settings_for
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_reference import ARGO_DIR, _module

EXAMPLES = sorted((ARGO_DIR / "status-examples").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    (document,) = _module().load_documents(path.read_text())
    return dict(document)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compressed_variant_round_trips(path: Path) -> None:
    workflow = _load(path)
    nodes = workflow["status"]["nodes"]
    compressed = copy.deepcopy(workflow)
    compressed["status"]["compressedNodes"] = compress_nodes(compressed["status"].pop("nodes"))
    inflated = inflate_status(compressed)
    assert inflated == workflow
    assert "nodes" not in compressed["status"]  # the input is left alone
    assert inflate_status(workflow) is workflow  # nothing to decode
    assert decompress_nodes(compressed["status"]["compressedNodes"]) == nodes


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_served_compressed_or_offloaded_they_arrive_whole(
    path: Path, argo: tuple[FakeArgo, str], tmp_path: Path
) -> None:
    fake, url = argo
    workflow = _load(path)
    nodes = workflow["status"]["nodes"]
    workflow["metadata"] = {
        "name": "compressed",
        "labels": {"app.kubernetes.io/managed-by": "drover"},
    }
    fake.put_workflow(workflow, compressed=True)
    workflow["metadata"]["name"] = "offloaded"
    fake.put_workflow(workflow, offloaded=True)
    with ArgoBackend(settings_for(url, tmp_path)) as backend:
        assert backend.get("compressed")["status"]["nodes"] == nodes
        assert backend.get("offloaded")["status"]["nodes"] == nodes
        assert {w["metadata"]["name"]: w["status"]["nodes"] for w in backend.list()} == {
            "compressed": nodes, "offloaded": nodes,
        }  # fmt: skip
        events = backend.watch()
        received = {
            e.workflow["metadata"]["name"]: e.workflow for e in (next(events), next(events))
        }
    assert received["compressed"]["status"]["nodes"] == nodes
    assert received["offloaded"]["status"]["nodes"] == nodes


def test_offload_marker_without_nodes_needs_hydration() -> None:
    assert needs_hydration({"status": {"offloadNodeStatusVersion": "fnv:1"}})
    assert not needs_hydration(
        {"status": {"offloadNodeStatusVersion": "fnv:1", "nodes": {"a": {}}}}
    )
    assert not needs_hydration({"status": {}})
    assert not needs_hydration({})


@pytest.mark.parametrize(
    "garbage", ["not base64!", "aGVsbG8=", compress_nodes({"a": 1})[:-8] + "AAAAAAA="]
)
def test_corrupt_compressed_nodes_are_a_clear_error(garbage: str) -> None:
    with pytest.raises(BackendError, match="compressedNodes"):
        inflate_status({"status": {"compressedNodes": garbage}})
