"""cucumber discovery through cucumber-js itself: a dry run that writes its message stream.

When the project has cucumber-js installed, ``cucumber-js --dry-run --format message:FILE`` in
the project directory sees exactly what a real run sees: the profile's ``paths`` (so feature
files kept as fixtures elsewhere are left out), its ``tags`` and ``name`` filters, the language
of every file. The stream holds one ``pickle`` per scenario or outline example row, and one
``testCase`` per pickle that passes the filters; a pickle's ``location`` (or, from older
cucumber-js, the location of its last AST node) is its scenario's or example row's line, so
``uri:line`` is what cucumber-js accepts back. Without cucumber-js installed, discovery falls
back to the Gherkin parser (:mod:`engine.discovery.gherkin_features`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.discovery.process import run_collector, tail
from engine.errors import DiscoveryError

if TYPE_CHECKING:
    from engine.spec import Scenario

__all__ = ["discover_cucumber_js", "find_cucumber_js", "parse_cucumber_messages"]


def find_cucumber_js(project: Path) -> Path | None:
    """The project's own ``node_modules/.bin/cucumber-js`` (searching upwards), if any."""
    for directory in (project.resolve(), *project.resolve().parents):
        candidate = directory / "node_modules" / ".bin" / "cucumber-js"
        if candidate.exists():
            return candidate
    return None


def discover_cucumber_js(project: Path, executable: Path) -> list[Scenario]:
    with tempfile.TemporaryDirectory(prefix="drover-cucumber-") as scratch:
        messages = Path(scratch) / "messages.ndjson"
        argv = [str(executable), "--dry-run", "--format", f"message:{messages}"]
        done = run_collector(argv, project)
        text = messages.read_text("utf-8") if messages.exists() else ""
    if done.returncode != 0 or not text:
        raise DiscoveryError(
            f"cucumber-js could not list the scenarios in {project} "
            f"(exit code {done.returncode}):\n" + tail(done.stdout + "\n" + done.stderr)
        )
    try:
        envelopes = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DiscoveryError(f"cucumber-js wrote an unreadable message stream: {exc}") from None
    return parse_cucumber_messages(envelopes)


def parse_cucumber_messages(envelopes: Iterable[dict[str, Any]]) -> list[Scenario]:
    """Scenarios of the pickles that became test cases, in cucumber's order."""
    from engine.spec import Scenario  # pydantic: loaded once scenarios are made

    envelopes = list(envelopes)
    lines = dict(_ast_lines(e["gherkinDocument"] for e in envelopes if "gherkinDocument" in e))
    pickles = {e["pickle"]["id"]: e["pickle"] for e in envelopes if "pickle" in e}
    run = [e["testCase"]["pickleId"] for e in envelopes if "testCase" in e]
    ordered = run if run or _finished_without_cases(envelopes) else list(pickles)
    scenarios: dict[str, Scenario] = {}
    for pickle_id in ordered:
        pickle = pickles.get(pickle_id)
        if pickle is None:
            continue
        line = (pickle.get("location") or {}).get("line") or next(
            (lines[a] for a in reversed(pickle.get("astNodeIds", [])) if a in lines), 0
        )
        uri = PurePosixPath(str(pickle["uri"]).replace("\\", "/")).as_posix()
        scenario_id = f"{uri}:{line}"
        scenarios.setdefault(
            scenario_id,
            Scenario(
                id=scenario_id,
                name=str(pickle.get("name", "")),
                tags=list(dict.fromkeys(t["name"].removeprefix("@") for t in pickle["tags"])),
            ),
        )
    return list(scenarios.values())


def _finished_without_cases(envelopes: list[dict[str, Any]]) -> bool:
    """A stream that ran to its end with no test case: the filters left nothing to run."""
    return any("testRunFinished" in e for e in envelopes)


def _ast_lines(documents: Iterable[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    """``(id, line)`` of every node with both (scenarios, example rows, steps...)."""
    stack: list[Any] = list(documents)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("id"), str) and isinstance(node.get("location"), dict):
                yield node["id"], int(node["location"].get("line", 0))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
