"""diff(old, new): one event per thing a person should hear about, once per transition."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import Batch

from batchmon.core.diff import BatchEvent, EventKind, diff
from batchmon.core.status import TERMINAL_STATUSES
from tests.helpers.batches import bare_batch

LIFECYCLES = [
    ("validating", "in_progress", "finalizing", "completed"),
    ("validating", "failed"),
    ("validating", "in_progress", "expired"),
    ("validating", "in_progress", "finalizing", "expired"),
    ("validating", "in_progress", "cancelling", "cancelled"),
    ("validating", "cancelling", "cancelled"),
]
"""Every path OpenAI's documented state machine allows."""


@dataclass
class Observed:
    """Snapshots of one batch as a poller saw them (states may be missed, seen repeatedly)."""

    snapshots: list[Batch]


@st.composite
def observed_sequences(draw: st.DrawFn) -> Observed:
    path = draw(st.sampled_from(LIFECYCLES))
    start = draw(st.integers(0, len(path) - 1))
    end = draw(st.integers(start, len(path) - 1))
    window = path[start : end + 1]
    # A poller can miss short-lived middle states, never the ones it saw first and last.
    seen = [window[0]]
    seen += [s for s in window[1:-1] if draw(st.booleans())]
    if len(window) > 1:
        seen.append(window[-1])
    total = draw(st.integers(0, 40))
    completed = failed = 0
    snapshots = []
    for status in seen:
        for _ in range(draw(st.integers(1, 4))):
            if status == "in_progress":
                completed += draw(st.integers(0, total - completed - failed))
                failed += draw(st.integers(0, total - completed - failed))
            snapshots.append(bare_batch(status, completed=completed, failed=failed, total=total))
    return Observed(snapshots)


def run(snapshots: list[Batch]) -> list[BatchEvent]:
    events: list[BatchEvent] = []
    previous: Batch | None = None
    for snapshot in snapshots:
        events += diff(previous, snapshot)
        previous = snapshot
    return events


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(observed_sequences())
def test_terminal_event_fires_exactly_once_when_the_batch_is_seen_finishing(
    observed: Observed,
) -> None:
    first, last = observed.snapshots[0], observed.snapshots[-1]
    events = run(observed.snapshots)
    terminal = [e for e in events if e.kind not in (EventKind.STATUS_CHANGED, EventKind.PROGRESS)]
    if last.status in TERMINAL_STATUSES and first.status not in TERMINAL_STATUSES:
        assert len(terminal) == 1
        assert terminal[0].kind == EventKind(last.status)
        assert terminal[0].key == (last.id, last.status)
    else:
        assert terminal == []


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(observed_sequences())
def test_status_changed_follows_each_change_and_keys_are_unique(observed: Observed) -> None:
    events = run(observed.snapshots)
    changes = [e for e in events if e.kind == EventKind.STATUS_CHANGED]
    statuses = [b.status for b in observed.snapshots]
    expected = [(a, b) for a, b in itertools.pairwise(statuses) if a != b]
    assert [(e.old_status, e.new_status) for e in changes] == expected
    assert max(Counter(e.key for e in changes).values(), default=0) <= 1
    for e in events:
        if e.kind not in (EventKind.STATUS_CHANGED, EventKind.PROGRESS):
            # A terminal event shares its key with the status change it rides on.
            assert e.key in {c.key for c in changes}


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(observed_sequences())
def test_progress_only_when_counts_advance_within_a_status(observed: Observed) -> None:
    events = run(observed.snapshots)
    pairs = itertools.pairwise(observed.snapshots)
    expected = sum(
        1
        for a, b in pairs
        if a.status == b.status
        and a.request_counts is not None
        and b.request_counts is not None
        and (a.request_counts.completed, a.request_counts.failed)
        != (b.request_counts.completed, b.request_counts.failed)
    )
    assert sum(e.kind == EventKind.PROGRESS for e in events) == expected


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(observed_sequences())
def test_identical_snapshots_give_no_events(observed: Observed) -> None:
    for snapshot in observed.snapshots:
        assert diff(snapshot, snapshot) == []
        assert diff(snapshot, snapshot.model_copy(deep=True)) == []


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(observed_sequences())
def test_first_sight_is_a_baseline_not_news(observed: Observed) -> None:
    for snapshot in observed.snapshots:
        assert diff(None, snapshot) == []


def test_completion_gives_status_changed_then_completed_with_the_new_snapshot() -> None:
    old = bare_batch("finalizing", completed=10, total=10)
    new = bare_batch("completed", completed=10, total=10, output_file_id="file-out")
    events = diff(old, new)
    assert [e.kind for e in events] == [EventKind.STATUS_CHANGED, EventKind.COMPLETED]
    assert all(e.old_status == "finalizing" and e.new_status == "completed" for e in events)
    assert all(e.batch is new for e in events)
    assert events[1].key == ("batch_1", "completed")


@pytest.mark.parametrize("terminal", ["failed", "expired", "cancelled"])
def test_each_terminal_state_has_its_own_event(terminal: str) -> None:
    old = bare_batch("cancelling" if terminal == "cancelled" else "in_progress")
    kinds = [e.kind for e in diff(old, bare_batch(terminal))]
    assert kinds == [EventKind.STATUS_CHANGED, EventKind(terminal)]


def test_progress_event_when_only_failures_advance() -> None:
    old = bare_batch("in_progress", completed=5, failed=0, total=10)
    new = bare_batch("in_progress", completed=5, failed=1, total=10)
    assert [e.kind for e in diff(old, new)] == [EventKind.PROGRESS]


def test_counts_going_backwards_are_not_progress() -> None:
    old = bare_batch("in_progress", completed=5, total=10)
    assert diff(old, bare_batch("in_progress", completed=4, total=10)) == []


def test_a_stale_read_after_a_terminal_state_is_ignored() -> None:
    done = bare_batch("completed", completed=3, total=3)
    stale = bare_batch("finalizing", completed=3, total=3)
    assert diff(done, stale) == []
    # ...and the terminal state seen again is not news either.
    assert diff(done, bare_batch("completed", completed=3, total=3)) == []


def test_diffing_two_different_batches_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="different batches"):
        diff(bare_batch(batch_id="batch_a"), bare_batch("in_progress", batch_id="batch_b"))


def test_events_compare_by_transition_not_by_snapshot_object() -> None:
    a = BatchEvent(EventKind.COMPLETED, "b", "finalizing", "completed", bare_batch("completed"))
    b = BatchEvent(EventKind.COMPLETED, "b", "finalizing", "completed", bare_batch("completed"))
    assert a == b
    assert len({a, b}) == 1
    assert EventKind.COMPLETED == "completed"
