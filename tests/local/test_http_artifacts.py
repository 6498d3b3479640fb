"""``http`` input artifacts, as Argo's HTTP artifact driver loads them
(workflow/artifacts/http/http.go) and its executor places them (``unarchiveArtifact``,
executor.go), from a real HTTP server on this machine."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.errors import SpecError
from tests.local.conftest import shell_template, stdout_of, workflow_manifest


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


PAGES = {"/tool.txt": b"a tool\n", "/bundle.tgz": _tarball({"a.txt": b"A", "b/c.txt": b"C"})}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        if body is None or self.headers.get("X-Token", "secret") != "secret":
            self.send_error(404 if body is None else 403)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _reader(script: str, **artifact: Any) -> dict[str, Any]:
    template = shell_template("main", script)
    template["inputs"] = {"artifacts": [{"name": "in", **artifact}]}
    return workflow_manifest([template])


def test_a_file_is_downloaded_to_its_path(backend: LocalBackend, server: str) -> None:
    done = backend.run(
        _reader(
            "cat /in/tool.txt",
            path="/in/tool.txt",
            http={"url": f"{server}/tool.txt", "headers": [{"name": "X-Token", "value": "secret"}]},
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    (pod,) = done["status"]["nodes"].values()
    assert stdout_of(backend, pod) == "a tool"


def test_a_gzipped_tarball_is_unpacked_unless_archive_none(
    backend: LocalBackend, server: str
) -> None:
    unpacked = backend.run(
        _reader("cat /in/a.txt /in/b/c.txt", path="/in", http={"url": f"{server}/bundle.tgz"})
    )
    (pod,) = unpacked["status"]["nodes"].values()
    assert stdout_of(backend, pod) == "AC"
    kept = backend.run(
        _reader(
            "tar -tzf /in/bundle.tgz | sort | tr '\\n' ' '",
            path="/in/bundle.tgz",
            archive={"none": {}},
            http={"url": f"{server}/bundle.tgz"},
        )
    )
    (pod,) = kept["status"]["nodes"].values()
    assert stdout_of(backend, pod).split() == ["a.txt", "b/c.txt"]


def test_not_found_leaves_out_an_optional_artifact_and_fails_another(
    backend: LocalBackend, server: str
) -> None:
    optional = backend.run(
        _reader("test ! -e /in/x", path="/in/x", optional=True, http={"url": f"{server}/gone"})
    )
    assert optional["status"]["phase"] == "Succeeded"
    required = backend.run(_reader("true", path="/in/x", http={"url": f"{server}/gone"}))
    (pod,) = required["status"]["nodes"].values()
    assert (pod["phase"], pod["message"]) == ("Error", "inputs.artifacts.in: artifact not found")
    refused = backend.run(
        _reader(
            "true",
            path="/in/x",
            http={"url": f"{server}/tool.txt", "headers": [{"name": "X-Token", "value": "x"}]},
        )
    )
    (pod,) = refused["status"]["nodes"].values()
    assert pod["phase"] == "Error" and "failed with reason: 403 Forbidden" in pod["message"]


def test_an_http_output_artifact_is_refused(backend: LocalBackend) -> None:
    template = shell_template("main", "true")
    template["outputs"] = {
        "artifacts": [{"name": "out", "path": "/o", "http": {"url": "http://127.0.0.1:1/o"}}]
    }
    with pytest.raises(SpecError, match="not supported by the local runner"):
        backend.submit(workflow_manifest([template]))
