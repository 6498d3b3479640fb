"""Makes the ``shop`` package importable from the repository root and from this directory."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
