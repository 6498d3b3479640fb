"""drover-agent: the program every Drover worker pod runs (standard library only).

- ``setup``   prepares the workspace: copy a local path or clone a git repo, run setup commands;
- ``run``     runs one shard of one scenario group through a runner adapter, batched, and writes
              per-scenario results as JSON;
- ``cleanup`` prints a summary of the run when the workflow ends.
"""

__version__ = "0.1.0"
