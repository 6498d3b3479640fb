"""Node field selectors as Argo parses (Kubernetes' ``fields.ParseSelector``) and matches
them (``SelectorMatchesNode``, workflow/util/util.go)."""

from __future__ import annotations

import pytest

from engine.backends.local.node_selector import NodeSelector, SelectorError

NODE = {
    "id": "wf-1",
    "name": "wf[1].approve",
    "displayName": "approve",
    "templateName": "gate",
    "phase": "Running",
    "inputs": {"parameters": [{"name": "tag", "value": "a,b=c"}]},
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("displayName=approve", True),
        ("displayName==approve,phase=Running", True),
        ("templateName!=gate", False),
        (r"inputs.parameters.tag.value=a\,b\=c", True),
        ("templateRef.name=x", False),  # a field the node lacks
        ("templateRef.name!=x", True),
        ("", True),
    ],
)
def test_selectors_match_as_argo_matches_them(selector: str, matches: bool) -> None:
    assert NodeSelector.parse(selector).matches(NODE) is matches


def test_a_term_without_an_operator_is_refused_with_kubernetes_message() -> None:
    with pytest.raises(SelectorError, match=r"invalid selector: 'phase'; can't understand 'phase'"):
        NodeSelector.parse("phase")
