"""cucumber-js messages (NDJSON, ``--format message``): attachments per scenario, and one stream
for the whole run out of every worker's and attempt's.

Each line is an envelope with one key (``source``, ``gherkinDocument``, ``pickle``,
``testCase``, ``testCaseStarted``, ``attachment``, ...), as ``@cucumber/messages`` defines them.
A scenario is ``uri:line`` of its pickle's ``location``, the id discovery gives it.

Merging: every worker parsed the same feature files, each with ids of its own (cucumber-js
makes UUIDs), so the merged stream keeps one ``source`` and ``gherkinDocument`` per file and
renames the AST node ids the other workers' pickles refer to, position by position (the same
file parses to the same tree). A scenario Drover ran again (a later attempt) becomes a retry of
the first, as cucumber's own ``retry`` writes it: the later attempt's pickle, test case and test
steps take the first attempt's ids, its ``testCaseStarted`` gets the next ``attempt`` number
and the attempt before it ``willBeRetried``. So ``@cucumber/html-formatter`` shows each
scenario once, with its final outcome and its earlier attempts.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["merge_messages", "read_envelopes", "save_attachments", "scenario_of_pickle"]

ATTEMPT = re.compile(r"-a(\d+)-")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/svg+xml": ".svg",
    "text/plain": ".txt",
    "text/html": ".html",
    "application/json": ".json",
    "video/webm": ".webm",
    "application/zip": ".zip",
}


def read_envelopes(path: Path) -> Iterator[dict[str, Any]]:
    """The envelopes of one NDJSON file; a torn last line (a killed runner) is skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError:
        return
    with handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                envelope = json.loads(line)
            except ValueError:
                continue
            if isinstance(envelope, dict):
                yield envelope


def scenario_of_pickle(pickle: dict[str, Any]) -> str:
    return f"{pickle.get('uri', '')}:{(pickle.get('location') or {}).get('line', '')}"


def save_attachments(messages: Path, directory: Path) -> dict[str, list[str]]:
    """Write each scenario's attachments (``this.attach``/``world.attach``) as files; their
    paths by scenario id. Attachments outside a test case (run hooks) have no scenario."""
    pickles: dict[str, str] = {}
    cases: dict[str, str] = {}
    started: dict[str, str] = {}
    saved: dict[str, list[str]] = {}
    count = 0
    for envelope in read_envelopes(messages):
        if "pickle" in envelope:
            pickles[envelope["pickle"]["id"]] = scenario_of_pickle(envelope["pickle"])
        elif "testCase" in envelope:
            cases[envelope["testCase"]["id"]] = envelope["testCase"]["pickleId"]
        elif "testCaseStarted" in envelope:
            started[envelope["testCaseStarted"]["id"]] = envelope["testCaseStarted"]["testCaseId"]
        elif "attachment" in envelope:
            attachment = envelope["attachment"]
            case = started.get(str(attachment.get("testCaseStartedId")))
            scenario = pickles.get(cases.get(case or "", ""))
            if scenario is None:
                continue
            count += 1
            data = _attachment_bytes(attachment)
            name = _attachment_name(attachment, count)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(data)
            saved.setdefault(scenario, []).append(str(directory / name))
    return saved


def _attachment_bytes(attachment: dict[str, Any]) -> bytes:
    body = str(attachment.get("body") or "")
    if attachment.get("contentEncoding") == "BASE64":
        return base64.b64decode(body)
    return body.encode("utf-8")


def _attachment_name(attachment: dict[str, Any], number: int) -> str:
    given = UNSAFE.sub("-", str(attachment.get("fileName") or "")).strip("-.")
    if given:
        return f"{number}-{given}"
    extension = EXTENSIONS.get(str(attachment.get("mediaType", "")).split(";")[0], ".bin")
    return f"attachment-{number}{extension}"


# ------------------------------------------------------------------------------ merging


@dataclass
class _FileIds:
    """What pass one learns about one messages file."""

    path: Path
    attempt: int
    ast: dict[str, str] = field(default_factory=dict)
    """This file's AST node ids → the kept gherkinDocument's."""
    pickle_scenario: dict[str, str] = field(default_factory=dict)
    case_pickle: dict[str, str] = field(default_factory=dict)
    case_steps: dict[str, list[str]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    """Pickle, test case and test step ids → the first attempt's (later attempts only)."""
    dropped: set[str] = field(default_factory=set)
    """Pickles and test cases that only repeat the first attempt's definitions."""
    ran: set[str] = field(default_factory=set)
    """Pickles this file has a test case for (cucumber-js lists every pickle of the files it
    loaded, also those its filters left out)."""


def _attempt_of(path: Path) -> int:
    match = ATTEMPT.search(path.name)
    return int(match[1]) if match else 0


def _ids_in_order(node: Any) -> Iterator[str]:
    """Every ``id`` of a gherkinDocument, depth first, in document order."""
    if isinstance(node, dict):
        if isinstance(node.get("id"), str):
            yield node["id"]
        for key in sorted(node):
            yield from _ids_in_order(node[key])
    elif isinstance(node, list):
        for item in node:
            yield from _ids_in_order(item)


def merge_messages(files: Sequence[Path], out: IO[str]) -> int:
    """Write one message stream for every file in ``files``; the number of scenarios in it."""
    ordered = sorted(files, key=lambda p: (_attempt_of(p), str(p)))
    documents: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, Any]] = {}
    first_case: dict[str, tuple[str, str, list[str]]] = {}
    """scenario → (pickle id, test case id, test step ids) of its first attempt."""
    tries: dict[str, list[tuple[int, str]]] = {}
    """scenario → [(file index, test case started id)] in attempt order, for willBeRetried."""
    infos: list[_FileIds] = []
    meta: dict[str, Any] | None = None
    run_started: dict[str, Any] | None = None
    run_finished: dict[str, Any] | None = None
    file_success: list[bool] = []
    for index, path in enumerate(ordered):
        info = _FileIds(path, _attempt_of(path))
        infos.append(info)
        file_success.append(True)
        for envelope in read_envelopes(path):
            if "meta" in envelope and meta is None:
                meta = envelope
            elif "source" in envelope:
                sources.setdefault(envelope["source"]["uri"], envelope)
            elif "gherkinDocument" in envelope:
                document = envelope["gherkinDocument"]
                kept = documents.setdefault(document.get("uri", ""), envelope)["gherkinDocument"]
                info.ast.update(zip(_ids_in_order(document), _ids_in_order(kept), strict=False))
            elif "pickle" in envelope:
                info.pickle_scenario[envelope["pickle"]["id"]] = scenario_of_pickle(
                    envelope["pickle"]
                )
            elif "testCase" in envelope:
                case = envelope["testCase"]
                steps = [str(s["id"]) for s in case.get("testSteps", [])]
                info.case_pickle[case["id"]] = case["pickleId"]
                info.case_steps[case["id"]] = steps
                info.ran.add(case["pickleId"])
                scenario = info.pickle_scenario.get(case["pickleId"], "")
                if scenario not in first_case:
                    first_case[scenario] = (case["pickleId"], case["id"], steps)
                else:
                    pickle_id, case_id, first_steps = first_case[scenario]
                    info.renamed[case["pickleId"]] = pickle_id
                    info.renamed[case["id"]] = case_id
                    info.renamed.update(zip(steps, first_steps, strict=False))
                    info.dropped.update({case["pickleId"], case["id"]})
            elif "testCaseStarted" in envelope:
                started = envelope["testCaseStarted"]
                scenario = info.pickle_scenario.get(
                    info.case_pickle.get(started["testCaseId"], ""), ""
                )
                tries.setdefault(scenario, []).append((index, started["id"]))
            elif "testRunStarted" in envelope:
                if run_started is None or _time(envelope["testRunStarted"]) < _time(
                    run_started["testRunStarted"]
                ):
                    run_started = envelope
            elif "testRunFinished" in envelope:
                file_success[index] = bool(envelope["testRunFinished"].get("success", True))
                if run_finished is None or _time(envelope["testRunFinished"]) > _time(
                    run_finished["testRunFinished"]
                ):
                    run_finished = envelope
    retried = {started for attempts in tries.values() for _, started in attempts[:-1]}
    attempt_number = {
        started: number for attempts in tries.values() for number, (_, started) in enumerate(attempts)
    }
    run_id = (run_started or {}).get("testRunStarted", {}).get("id")

    def write(envelope: dict[str, Any]) -> None:
        out.write(json.dumps(envelope, separators=(",", ":")) + "\n")

    if meta is not None:
        write(meta)
    for uri, source in sources.items():
        write(source)
        if uri in documents:
            write(documents[uri])
    for uri, document in documents.items():
        if uri not in sources:
            write(document)
    if run_started is not None:
        write(run_started)
    for info in infos:
        for envelope in read_envelopes(info.path):
            kind = next(iter(envelope), "")
            if kind in ("meta", "source", "gherkinDocument", "testRunStarted", "testRunFinished"):
                continue
            body = envelope[kind]
            if kind in ("pickle", "testCase") and body.get("id") in info.dropped:
                continue
            if kind == "pickle":
                if body.get("id") not in info.ran:
                    continue
                _rename_pickle(body, info.ast)
            elif kind == "testCaseStarted":
                body["attempt"] = attempt_number.get(body["id"], body.get("attempt", 0))
                body["testCaseId"] = info.renamed.get(body["testCaseId"], body["testCaseId"])
            elif kind in ("testStepStarted", "testStepFinished"):
                body["testStepId"] = info.renamed.get(body["testStepId"], body["testStepId"])
            elif kind == "testCaseFinished" and body.get("testCaseStartedId") in retried:
                body["willBeRetried"] = True
            if run_id and "testRunStartedId" in body:
                body["testRunStartedId"] = run_id
            write(envelope)
    if run_finished is not None:
        # Passed when every file that ran a scenario's last attempt passed.
        last_files = {attempts[-1][0] for attempts in tries.values()}
        run_finished["testRunFinished"]["success"] = all(file_success[i] for i in last_files)
        write(run_finished)
    return len(first_case)


def _rename_pickle(pickle: dict[str, Any], ast: dict[str, str]) -> None:
    pickle["astNodeIds"] = [ast.get(i, i) for i in pickle.get("astNodeIds", [])]
    for step in pickle.get("steps", []):
        step["astNodeIds"] = [ast.get(i, i) for i in step.get("astNodeIds", [])]
    for tag in pickle.get("tags", []):
        if "astNodeId" in tag:
            tag["astNodeId"] = ast.get(tag["astNodeId"], tag["astNodeId"])


def _time(message: dict[str, Any]) -> tuple[int, int]:
    stamp = message.get("timestamp") or {}
    return int(stamp.get("seconds", 0)), int(stamp.get("nanos", 0))

