"""``templateDefaults`` merged as Argo's ``mergedTemplateDefaultsInto`` merges them: only the
defaults of the template's own kind, then the template over them as a strategic merge patch."""

from __future__ import annotations

from engine.backends.local.template_defaults import merge_template_defaults

DEFAULTS = {
    "timeout": "30s",
    "container": {
        "image": "alpine",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "args": ["default"],
    },
    "script": {"image": "python"},
}


def test_a_steps_template_gets_no_container_or_script() -> None:
    merged = merge_template_defaults(DEFAULTS, {"name": "main", "steps": [[]]})
    assert merged == {"name": "main", "steps": [[]], "timeout": "30s"}


def test_a_container_merges_env_by_name_and_replaces_other_lists() -> None:
    template = {
        "name": "c",
        "container": {"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
    }
    merged = merge_template_defaults(DEFAULTS, template)
    assert "script" not in merged
    assert merged["container"]["image"] == "alpine"
    assert merged["container"]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    own_args = merge_template_defaults(DEFAULTS, {"container": {"args": ["mine"]}})
    assert own_args["container"]["args"] == ["mine"]
    assert merge_template_defaults(DEFAULTS, {"container": {}, "timeout": "5s"})["timeout"] == "5s"
