from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def shop_execution_path() -> Path:
    return ROOT / "examples" / "shop" / "execution.yaml"
