import pytest

# pytest spells a string argument into the test id: this one makes an id of 5000+ characters.
NESTED = "[{a = " * 700 + "1" + "}]" * 700


@pytest.mark.slow
@pytest.mark.parametrize("document", [NESTED, "x = 1"])
def test_parse(document):
    assert document


@pytest.mark.parametrize("value", ["a::b", "x/y", "sp ace", "\u00e9"])
def test_odd_params(value):
    assert value
