"""Backoff as a value: predictable delays, capped, resettable, optionally jittered."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmon.core.backoff import Backoff


def test_defaults_double_from_two_seconds_up_to_a_minute() -> None:
    b = Backoff()
    delays = []
    for _ in range(8):
        delays.append(b.delay)
        b = b.next()
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_next_and_reset_return_new_values_and_leave_the_original_alone() -> None:
    b = Backoff()
    later = b.next().next()
    assert (b.attempt, later.attempt) == (0, 2)
    assert later.reset() == Backoff()
    with pytest.raises(AttributeError):
        b.attempt = 5  # type: ignore[misc]


def test_huge_attempt_counts_stay_capped_instead_of_overflowing() -> None:
    assert Backoff(attempt=100_000).delay == 60.0


def test_jitter_shortens_delay_by_the_drawn_fraction() -> None:
    b = Backoff(initial=10.0, maximum=100.0, jitter=0.5).next(rand=lambda: 0.5)
    assert b.base_delay == 20.0
    assert b.delay == pytest.approx(15.0)
    assert b.delay == b.delay  # a value, not a fresh draw per read
    assert b.reset().delay == 10.0


def test_no_jitter_means_no_random_draw() -> None:
    def boom() -> float:
        raise AssertionError("drew a random number without jitter")

    assert Backoff().next(rand=boom).delay == 4.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": 5, "maximum": 1},
        {"factor": 0.5},
        {"attempt": -1},
        {"jitter": 1.5},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(
    initial=st.floats(0.01, 100),
    extra=st.floats(0, 1000),
    factor=st.floats(1, 10),
    jitter=st.floats(0, 1),
    draws=st.lists(st.floats(0, 0.999), max_size=30),
)
def test_delay_is_always_within_bounds_and_base_never_shrinks(
    initial: float, extra: float, factor: float, jitter: float, draws: list[float]
) -> None:
    b = Backoff(initial=initial, maximum=initial + extra, factor=factor, jitter=jitter)
    previous = 0.0
    for draw in draws:
        assert 0 < b.delay <= b.maximum
        assert b.delay >= b.base_delay * (1 - jitter)
        assert b.base_delay >= previous
        previous = b.base_delay
        b = b.next(rand=lambda d=draw: d)  # type: ignore[misc]
