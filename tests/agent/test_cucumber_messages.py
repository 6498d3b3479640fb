"""cucumber messages: each scenario's attachments become files beside its result."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from drover_agent.cucumber_messages import save_attachments

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_attachments_are_saved_per_scenario(tmp_path: Path) -> None:
    envelopes = [
        {"pickle": {"id": "p1", "uri": "features/cart.feature", "location": {"line": 9}}},
        {"pickle": {"id": "p2", "uri": "features/cart.feature", "location": {"line": 27}}},
        {"testCase": {"id": "c1", "pickleId": "p1", "testSteps": []}},
        {"testCase": {"id": "c2", "pickleId": "p2", "testSteps": []}},
        {"testCaseStarted": {"id": "s2", "testCaseId": "c2", "attempt": 0}},
        {"attachment": {"testCaseStartedId": "s2", "body": base64.b64encode(PNG).decode(),
                        "contentEncoding": "BASE64", "mediaType": "image/png"}},
        {"attachment": {"testCaseStartedId": "s2", "body": "the basket held 3 items",
                        "contentEncoding": "IDENTITY", "mediaType": "text/plain",
                        "fileName": "../basket log.txt"}},
        {"attachment": {"testRunHookStartedId": "h1", "body": "run hook",
                        "contentEncoding": "IDENTITY", "mediaType": "text/plain"}},
    ]  # fmt: skip
    messages = tmp_path / "cucumber-messages-a1-0.ndjson"
    messages.write_text("".join(json.dumps(e) + "\n" for e in envelopes) + '{"torn')
    saved = save_attachments(messages, tmp_path / "out")
    assert list(saved) == ["features/cart.feature:27"]  # the run hook's belongs to no scenario
    shot, log = (Path(p) for p in saved["features/cart.feature:27"])
    assert shot.name == "attachment-1.png" and shot.read_bytes() == PNG
    assert log.name == "2-basket-log.txt" and log.read_text() == "the basket held 3 items"
    assert log.parent == tmp_path / "out"  # a file name cannot leave the directory
