"""Container logs archived as output artifacts (``archiveLogs``): where, and when not
(engine/backends/local/log_archive.py; Argo's ``IsArchiveLogs``, ``addArchiveLocation`` and
the executor's ``SaveLogs``)."""

from __future__ import annotations

from engine.backends.local import LocalBackend
from tests.local.conftest import shell_template, workflow_manifest


def _main_logs(done: dict) -> list[dict]:
    (node,) = done["status"]["nodes"].values()
    return [
        a for a in (node.get("outputs") or {}).get("artifacts") or [] if a["name"] == "main-logs"
    ]


def test_a_templates_archive_location_keys_its_logs(backend: LocalBackend) -> None:
    main = shell_template("main", "echo to the archive")
    main["archiveLocation"] = {"archiveLogs": True, "gcs": {"key": "logs/here"}}
    done = backend.run(workflow_manifest([main]))
    assert _main_logs(done) == [{"name": "main-logs", "gcs": {"key": "logs/here/main.log"}}]
    text = backend.store.repository_path("logs/here/main.log").read_text()
    assert text == "to the archive\n"


def test_the_template_says_no_to_the_workflows_archive_logs(backend: LocalBackend) -> None:
    main = shell_template("main", "echo kept in the pod log only")
    main["archiveLocation"] = {"archiveLogs": False}
    done = backend.run(workflow_manifest([main], archiveLogs=True))
    assert done["status"]["phase"] == "Succeeded"
    assert _main_logs(done) == []
    plain = backend.run(workflow_manifest([shell_template("main", "echo x")], archiveLogs=True))
    (logs,) = _main_logs(plain)
    name = plain["metadata"]["name"]
    assert logs == {"name": "main-logs", "s3": {"key": f"{name}/{name}/main.log"}}
