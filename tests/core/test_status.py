"""Status semantics: what the monitor shows for a batch snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import Batch

from batchmon.core import status as st_mod
from batchmon.core.status import (
    APPLICABLE_STATUSES,
    PENDING_STATUSES,
    TERMINAL_STATUSES,
    StuckLimits,
    eta_seconds,
    is_pending,
    is_stuck,
    is_terminal,
    outcome,
    paced_eta,
    progress,
    state_entered_at,
    time_in_state,
)
from tests.helpers.batches import T0, bare_batch

ALL_STATUSES = sorted(Batch.model_fields["status"].annotation.__args__)  # type: ignore[union-attr]


def test_every_sdk_status_is_exactly_one_of_pending_or_terminal() -> None:
    assert set(ALL_STATUSES) == PENDING_STATUSES | TERMINAL_STATUSES
    assert not PENDING_STATUSES & TERMINAL_STATUSES
    for s in ALL_STATUSES:
        assert is_pending(s) != is_terminal(s)


def test_failed_batches_have_nothing_to_apply() -> None:
    assert {"completed", "expired", "cancelled"} == APPLICABLE_STATUSES
    assert APPLICABLE_STATUSES < TERMINAL_STATUSES


def test_unknown_status_is_neither_pending_nor_terminal() -> None:
    assert not is_pending("paused")
    assert not is_terminal("paused")


def test_progress_counts_failed_requests_as_done() -> None:
    p = progress(bare_batch("in_progress", completed=60, failed=15, total=100))
    assert (p.completed, p.failed, p.total, p.done) == (60, 15, 100, 75)
    assert p.fraction == pytest.approx(0.75)


def test_progress_is_zero_before_openai_counts_requests() -> None:
    p = progress(bare_batch("validating", request_counts=None))
    assert (p.done, p.total, p.fraction) == (0, 0, 0.0)


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(
    total=st.integers(0, 100_000),
    completed=st.integers(0, 100_000),
    failed=st.integers(0, 100_000),
)
def test_progress_fraction_stays_in_unit_interval(total: int, completed: int, failed: int) -> None:
    p = progress(bare_batch("in_progress", completed=completed, failed=failed, total=total))
    assert 0.0 <= p.fraction <= 1.0


ENTERED_BY = {
    "validating": "created_at",
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}
"""OpenAI's Batch object: the timestamp that marks entering each status."""


@pytest.mark.parametrize(("status", "field"), ENTERED_BY.items())
def test_state_entered_at_reads_the_timestamp_of_the_current_state(status: str, field: str) -> None:
    later = [name for name in ENTERED_BY.values() if name != "created_at"]
    stamps: dict[str, Any] = {name: T0 + i * 100 for i, name in enumerate(later, start=1)}
    batch = bare_batch(status, **stamps)
    assert state_entered_at(batch) == getattr(batch, field)


def test_state_entered_at_is_none_when_openai_left_the_timestamp_out() -> None:
    assert state_entered_at(bare_batch("finalizing")) is None
    assert time_in_state(bare_batch("finalizing"), T0 + 10) is None


def test_time_in_state_accepts_unix_seconds_and_datetimes() -> None:
    batch = bare_batch("finalizing", finalizing_at=T0 + 60)
    assert time_in_state(batch, T0 + 660) == 600.0
    assert time_in_state(batch, datetime.fromtimestamp(T0 + 660, tz=UTC)) == 600.0


def test_time_in_state_never_goes_negative_under_clock_skew() -> None:
    assert time_in_state(bare_batch("validating"), T0 - 30) == 0.0


def test_eta_extrapolates_rate_since_in_progress() -> None:
    # 40 of 100 done in 400 s -> 0.1 req/s -> 60 left take 600 s.
    batch = bare_batch("in_progress", completed=30, failed=10, total=100, in_progress_at=T0 + 100)
    assert eta_seconds(batch, T0 + 500) == pytest.approx(600.0)


def test_eta_is_zero_when_all_requests_are_done_but_status_lags() -> None:
    batch = bare_batch("in_progress", completed=100, total=100, in_progress_at=T0)
    assert eta_seconds(batch, T0 + 50) == 0.0


@pytest.mark.parametrize(
    "batch",
    [
        bare_batch("in_progress", completed=0, total=100, in_progress_at=T0),  # no rate yet
        bare_batch("in_progress", completed=5, total=100),  # no start time
        bare_batch("in_progress", completed=5, total=0, in_progress_at=T0),  # no total
        bare_batch("validating", total=100),
        bare_batch("finalizing", completed=100, total=100, in_progress_at=T0),
        bare_batch("completed", completed=100, total=100, in_progress_at=T0),
    ],
)
def test_eta_is_unknown_rather_than_invented(batch: Batch) -> None:
    assert eta_seconds(batch, T0 + 1000) is None


def test_eta_is_unknown_when_now_is_before_the_start() -> None:
    batch = bare_batch("in_progress", completed=5, total=10, in_progress_at=T0 + 100)
    assert eta_seconds(batch, T0 + 100) is None


@pytest.mark.parametrize(
    ("status", "entered_field", "limit"),
    [("finalizing", "finalizing_at", 1800), ("cancelling", "cancelling_at", 3600)],
)
def test_stuck_only_after_the_default_limit(status: str, entered_field: str, limit: int) -> None:
    stamp: dict[str, Any] = {entered_field: T0}
    batch = bare_batch(status, **stamp)
    assert not is_stuck(batch, T0 + limit)
    assert is_stuck(batch, T0 + limit + 1)


def test_validating_for_over_an_hour_is_stuck() -> None:
    batch = bare_batch("validating")
    assert not is_stuck(batch, T0 + 3600)
    assert is_stuck(batch, T0 + 3601)


def test_in_progress_and_terminal_batches_are_never_stuck_by_default() -> None:
    assert not is_stuck(bare_batch("in_progress", in_progress_at=T0), T0 + 86_400)
    assert not is_stuck(bare_batch("completed", completed_at=T0), T0 + 86_400)


def test_stuck_limits_are_configurable_per_state() -> None:
    limits = StuckLimits(finalizing=60, in_progress=600)
    assert is_stuck(bare_batch("finalizing", finalizing_at=T0), T0 + 61, limits)
    assert is_stuck(bare_batch("in_progress", in_progress_at=T0), T0 + 601, limits)
    assert not is_stuck(
        bare_batch("finalizing", finalizing_at=T0), T0 + 10_000, StuckLimits(finalizing=None)
    )


def test_batch_without_a_state_timestamp_is_not_called_stuck() -> None:
    assert not is_stuck(bare_batch("finalizing"), T0 + 100_000)


OUTCOMES = [
    # status, completed, failed, total, kind, text
    ("completed", 100, 0, 100, "succeeded", "All 100 requests succeeded"),
    ("completed", 1, 0, 1, "succeeded", "All 1 request succeeded"),
    ("completed", 97, 3, 100, "partial", "97 of 100 succeeded, 3 failed"),
    ("completed", 0, 5, 5, "failed", "All 5 requests failed"),
    ("completed", 0, 0, 0, "succeeded", "Completed with no requests"),
    ("expired", 40, 2, 100, "expired",
     "Expired before finishing: 40 of 100 succeeded, 2 failed, 58 not run"),
    ("cancelled", 10, 0, 50, "cancelled", "Cancelled: 10 of 50 succeeded, 40 not run"),
    ("failed", 0, 0, 0, "failed", "Batch failed: the input file was rejected"),
    ("validating", 0, 0, 0, "running", "Validating input"),
    ("in_progress", 30, 10, 80, "running", "In progress: 40 of 80 done (50%)"),
    ("finalizing", 80, 0, 80, "running", "Finalizing results: 80 of 80 done (100%)"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "completed", "failed", "total", "kind", "text"), OUTCOMES)
def test_outcome_summarises_for_a_person(
    status: str, completed: int, failed: int, total: int, kind: str, text: str
) -> None:
    batch = bare_batch(status, completed=completed, failed=failed, total=total)
    assert outcome(batch) == st_mod.Outcome(kind, text)  # type: ignore[arg-type]


def test_failed_outcome_names_the_first_validation_error_and_how_many_more() -> None:
    errors = {
        "object": "list",
        "data": [
            {"code": "invalid_json_line", "line": 3, "message": "This line is not valid JSON."},
            {"code": "duplicate_custom_id", "line": 9, "message": "Duplicate custom_id."},
            {"code": "duplicate_custom_id", "line": 10, "message": "Duplicate custom_id."},
        ],
    }
    result = outcome(bare_batch("failed", errors=errors))
    assert result.kind == "failed"
    assert result.text == "Batch failed: line 3: This line is not valid JSON. (and 2 more errors)"


def test_a_pace_extrapolates_and_is_none_without_one() -> None:
    """A batch's ETA and a job's both come from this: no pace, no made-up number."""
    assert paced_eta(1, 4, 10.0) == 30.0
    assert paced_eta(4, 4, 10.0) == 0.0
    assert paced_eta(0, 4, 10.0) is None
    assert paced_eta(1, 4, 0.0) is None
    assert paced_eta(0, 0, 10.0) is None
