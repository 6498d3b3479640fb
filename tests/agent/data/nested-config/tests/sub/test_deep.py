import pytest


@pytest.mark.smoke
def test_uses_the_projects_conftest(top):
    assert top == "top"
