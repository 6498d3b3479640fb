from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop() -> Path:
    return ROOT / "examples" / "shop"


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).with_name("data")
