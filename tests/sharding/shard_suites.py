"""Hypothesis strategies building scenario suites for the sharding tests."""

from __future__ import annotations

from hypothesis import strategies as st

from engine.sharding import ShardItem, Strategy

ALL_STRATEGIES = tuple(Strategy)

_directories = st.sampled_from(["", "tests/auth", "tests/cart", "tests/cart/deep", "features"])
_files = st.sampled_from(["test_a.py", "test_b.py", "c.feature"])
_test_numbers = st.integers(1, 99)
_locations = st.one_of(
    st.just(""),
    st.builds(lambda d, f, n: f"{d}/{f}::t{n}".lstrip("/"), _directories, _files, _test_numbers),
    st.builds(lambda d, f, n: f"{d}/{f}:{n}".lstrip("/"), _directories, _files, _test_numbers),
)
_tags = st.lists(st.sampled_from(["smoke", "e2e", "regression", "slow"]), max_size=2).map(tuple)
_statuses = st.sampled_from([None, "passed", "failed", "skipped", "timedOut"])
# Whole and fractional seconds, zero included; None is an unknown duration.
_known_durations = st.one_of(
    st.integers(0, 600).map(float),
    st.floats(0.0, 3600.0, allow_nan=False, allow_infinity=False),
)
_durations = st.one_of(st.none(), _known_durations)


@st.composite
def suites(draw: st.DrawFn, max_size: int = 60, known_durations: bool = False) -> list[ShardItem]:
    """A list of scenarios with unique ids and a mix of locations, tags and histories."""
    size = draw(st.integers(0, max_size))
    durations = _known_durations if known_durations else _durations
    return [
        ShardItem(
            id=f"s{index}",
            duration=draw(durations),
            location=draw(_locations),
            tags=draw(_tags),
            last_status=draw(_statuses),
        )
        for index in range(size)
    ]


threads = st.integers(1, 12)
