"""cucumber discovery through cucumber-js's own dry run (its message stream)."""

from __future__ import annotations

from typing import Any

from engine.discovery.cucumber_messages import parse_cucumber_messages


def pickle(pickle_id: str, line: int | None, ast: list[str], *tags: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pickle_id,
        "uri": "features/a.feature",
        "name": f"scenario {pickle_id}",
        "astNodeIds": ast,
        "tags": [{"name": f"@{t}"} for t in tags],
    }
    if line is not None:
        body["location"] = {"line": line, "column": 5}
    return {"pickle": body}


DOCUMENT = {
    "gherkinDocument": {
        "uri": "features/a.feature",
        "feature": {"children": [{"scenario": {
            "id": "s1", "location": {"line": 3},
            "examples": [{"tableBody": [{"id": "r1", "location": {"line": 9}},
                                        {"id": "r2", "location": {"line": 10}}]}],
        }}]},
    }
}  # fmt: skip


def test_only_pickles_that_became_test_cases_in_run_order() -> None:
    envelopes = [
        DOCUMENT,
        pickle("p1", 9, ["s1", "r1"], "a", "a"),
        pickle("p2", 10, ["s1", "r2"], "b"),
        {"testCase": {"id": "t2", "pickleId": "p2"}},
        {"testRunFinished": {"success": True}},
    ]
    scenarios = parse_cucumber_messages(envelopes)
    assert [(s.id, s.name, s.tags) for s in scenarios] == [
        ("features/a.feature:10", "scenario p2", ["b"])
    ]


def test_lines_from_the_ast_when_pickles_carry_no_location() -> None:
    envelopes = [
        DOCUMENT,
        pickle("p1", None, ["s1", "r1"], "a", "a"),
        pickle("p2", None, ["s1", "r2"]),
        {"testCase": {"id": "t1", "pickleId": "p1"}},
        {"testCase": {"id": "t2", "pickleId": "p2"}},
    ]
    scenarios = parse_cucumber_messages(envelopes)
    assert [(s.id, s.tags) for s in scenarios] == [
        ("features/a.feature:9", ["a"]),
        ("features/a.feature:10", []),
    ]


def test_filters_that_leave_nothing_leave_nothing() -> None:
    envelopes = [DOCUMENT, pickle("p1", 9, ["s1", "r1"]), {"testRunFinished": {"success": True}}]
    assert parse_cucumber_messages(envelopes) == []
