"""What the agent and its pytest plugin (:mod:`drover_agent.pytest_plugin`) agree on.

Standard library only, without pytest: the agent imports these names whatever its runner, and
the plugin, inside the project's pytest, imports nothing else of the agent.
"""

from __future__ import annotations

__all__ = ["LIVE_RESULTS_ENV", "PLUGIN_ARGS", "SELECT_OPTION"]

PLUGIN_ARGS = ("-p", "drover_agent.pytest_plugin")
"""How the agent loads the plugin: explicitly, so it loads also when the project disables plugin
autoloading, and nothing else of Drover's is loaded into the project's pytest."""
SELECT_OPTION = "--drover-select"
"""The plugin's option naming the selection file: ``{"ids": [...], "unmatched": PATH}``."""
LIVE_RESULTS_ENV = "DROVER_LIVE_RESULTS"
"""The variable naming the file the plugin appends one JSON line per finished test to."""
