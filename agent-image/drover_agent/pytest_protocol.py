"""What the agent and its pytest plugin (:mod:`drover_agent.pytest_plugin`) agree on.

Standard library only, without pytest: the agent imports these names whatever its runner, and
the plugin, inside the project's pytest, imports nothing else of the agent.
"""

from __future__ import annotations

__all__ = [
    "ARTIFACTS_BASE_ENV",
    "ARTIFACTS_ENV",
    "ARTIFACTS_INDEX",
    "LIVE_RESULTS_ENV",
    "PLUGIN_ARGS",
    "SELECT_OPTION",
]

PLUGIN_ARGS = ("-p", "drover_agent.pytest_plugin")
"""How the agent loads the plugin: explicitly, so it loads also when the project disables plugin
autoloading, and nothing else of Drover's is loaded into the project's pytest."""
SELECT_OPTION = "--drover-select"
"""The plugin's option naming the selection file: ``{"ids": [...], "unmatched": PATH}``."""
LIVE_RESULTS_ENV = "DROVER_LIVE_RESULTS"
"""The variable naming the file the plugin appends one JSON line per finished test to."""
ARTIFACTS_ENV = "DROVER_ARTIFACTS_DIR"
"""The directory a test may write its artifacts to (screenshots, logs, dumps): set by the plugin
for each test, empty and its own. Drover keeps what is in it beside the test's result."""
ARTIFACTS_BASE_ENV = "DROVER_ARTIFACTS_BASE"
"""Where the plugin makes each test's :data:`ARTIFACTS_ENV` directory (the agent sets it)."""
ARTIFACTS_INDEX = "index.jsonl"
"""In :data:`ARTIFACTS_BASE_ENV`: one ``{"nodeid", "dir"}`` line per test that wrote files."""
