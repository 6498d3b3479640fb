def test_top(top):
    assert top
