import pytest


@pytest.fixture
def top():
    return "top"
