"""The plan leaves the manifest in ConfigMaps that stay under 1 MiB however large the suite."""

from __future__ import annotations

import base64
import gzip
import json
import random
from typing import Any

from engine.loading import parse_execution
from engine.plan_documents import CONFIGMAP_BUDGET, plan_configmaps, plan_files, plan_id
from engine.planning import plan_execution
from engine.spec import Scenario


def _execution(groups: int, scenarios: int, threads: int) -> dict[str, Any]:
    rng = random.Random(7)
    return {
        "name": "big",
        "project": {"name": "p", "path": "/src"},
        "flows": [
            {
                "name": "f",
                "groups": [
                    {
                        "name": f"g{g}",
                        "threads": threads,
                        "scenarios": [
                            {
                                "id": f"tests/area_{g}/test_{i}_{rng.random():.12f}.py::test_case_{i}"
                                "[with a fairly long parametrised name]",
                                "duration": rng.lognormvariate(2, 1),
                            }
                            for i in range(scenarios)
                        ],
                    }
                    for g in range(groups)
                ],
            }
        ],
    }


def _read_back(configmaps: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """What the agent sees: every group's workers, parts merged."""
    groups: dict[str, dict[str, list[str]]] = {}
    for configmap in configmaps:
        files = {n: t.encode() for n, t in configmap.get("data", {}).items()}
        files |= {
            n: gzip.decompress(base64.b64decode(b))
            for n, b in configmap.get("binaryData", {}).items()
        }
        for name, content in files.items():
            if name == "run.json":
                continue
            doc = json.loads(content)
            workers = groups.setdefault(doc["group"], {})
            for index, entries in doc["workers"].items():
                assert index not in workers, f"worker {index} of {doc['group']} in two parts"
                workers[index] = [e["id"] for e in entries]
    return groups


def test_small_plans_stay_readable_json() -> None:
    plan = plan_execution(parse_execution(_execution(groups=2, scenarios=20, threads=3)))
    files = plan_files(plan)
    assert [f.name for f in files] == ["run.json", "f.g0.json", "f.g1.json"]
    assert not any(f.binary for f in files)


def test_huge_group_is_compressed_split_and_complete() -> None:
    plan = plan_execution(parse_execution(_execution(groups=2, scenarios=40_000, threads=40)))
    files = plan_files(plan)
    assert any(".part" in f.name for f in files), "a 40,000-scenario group should be split"
    configmaps = plan_configmaps(files, name_prefix="drover-plan-x", labels={})
    for configmap in configmaps:
        assert len(json.dumps(configmap)) < 1024 * 1024
        stored = sum(len(v) for v in configmap.get("binaryData", {}).values())
        assert stored <= CONFIGMAP_BUDGET
    seen = _read_back(configmaps)
    for group in plan.groups:
        assert seen[group.key] == {
            str(i): [s.id for s in worker] for i, worker in enumerate(group.workers)
        }


def test_each_scenario_reads_back_whole_and_written_as_its_spec_entry() -> None:
    """The plan keeps what the agent needs of every scenario, however the spec gave it."""
    given = [
        {"id": "t/test_a.py::test_one"},
        {"id": "t/test_a.py::test_two", "location": "t/test_a.py::test_two", "name": ""},
        {"id": "features/cart.feature:12", "location": "features/cart.feature:12", "tags": []},
        {"id": "t/test_ü.py::test_€[ß]", "name": "test_€", "tags": ["slow", "ü"]},
        {"id": "login", "location": "e2e/login.spec.ts:3", "duration": 0, "last_status": "failed"},
        {"id": "t/test_b.py::test_c", "duration": 12.5, "tags": ["smoke"]},
    ]
    doc = _execution(groups=1, scenarios=0, threads=2)
    doc["flows"][0]["groups"][0]["scenarios"] = given
    plan = plan_execution(parse_execution(doc))
    (group,) = plan.groups
    _run, group_file = plan_files(plan)
    workers = json.loads(group_file.content)["workers"]
    entries = [entry for worker in workers.values() for entry in worker]
    by_id = {s.id: s for s in group.scenarios}
    assert sorted(e["id"] for e in entries) == sorted(by_id)
    for entry in entries:
        scenario = by_id[entry["id"]]
        assert Scenario.model_validate(entry) == scenario
        assert entry == scenario.entry()
    assert {"id": "t/test_a.py::test_one"} in entries  # nothing but the id where nothing more


def test_plan_id_is_deterministic_and_content_addressed() -> None:
    doc = _execution(groups=1, scenarios=50, threads=4)
    first = plan_id(plan_files(plan_execution(parse_execution(doc))))
    again = plan_id(plan_files(plan_execution(parse_execution(doc))))
    doc["flows"][0]["groups"][0]["threads"] = 5
    changed = plan_id(plan_files(plan_execution(parse_execution(doc))))
    assert first == again != changed
