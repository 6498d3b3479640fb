"""A pytest plugin (loaded with ``-p drover_collect``) that writes the collected items as JSON.

It runs inside the test project's pytest process, so it imports nothing from Drover. The file
named by ``DROVER_COLLECT_OUTPUT`` receives one entry per collected item: the node id made
relative to the directory pytest was invoked in, the test name and its marker names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

OUTPUT_VARIABLE = "DROVER_COLLECT_OUTPUT"


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(OUTPUT_VARIABLE)
    if not target:
        return
    invocation_dir = session.config.invocation_params.dir
    rootdir = session.config.rootpath
    items = [
        {
            "nodeid": _relative_nodeid(item.nodeid, rootdir, invocation_dir),
            "name": item.name,
            "markers": list(dict.fromkeys(m.name for m in item.iter_markers())),
        }
        for item in session.items
    ]
    Path(target).write_text(json.dumps(items), encoding="utf-8")


def _relative_nodeid(nodeid: str, rootdir: Path, invocation_dir: Path) -> str:
    # Node ids are relative to pytest's rootdir; the agent passes them to a pytest started in the
    # project directory, where they must resolve the same way.
    file_part, sep, rest = nodeid.partition("::")
    relative = os.path.relpath(rootdir / file_part, invocation_dir)
    if relative.startswith(".."):
        return nodeid
    return Path(relative).as_posix() + sep + rest
