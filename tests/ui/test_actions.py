"""Which buttons a batch offers, for every status (the pure rule behind every Retry)."""

from __future__ import annotations

import pytest

from batchmon.core.status import PENDING_STATUSES, TERMINAL_STATUSES
from batchmon.ui.actions import Action, RequestCounts, allowed_actions

ALWAYS = {Action.COPY_ID}
NO_FAILURES = RequestCounts(total=10, completed=10, failed=0)
SOME_FAILURES = RequestCounts(total=10, completed=7, failed=3)


@pytest.mark.parametrize(
    ("status", "counts", "expected"),
    [
        ("validating", None, ALWAYS | {Action.CANCEL, Action.MUTE}),
        ("in_progress", SOME_FAILURES, ALWAYS | {Action.CANCEL, Action.MUTE}),
        ("finalizing", NO_FAILURES, ALWAYS | {Action.CANCEL, Action.MUTE}),
        ("cancelling", None, ALWAYS | {Action.MUTE}),
        ("completed", NO_FAILURES, ALWAYS),
        ("completed", None, ALWAYS),
        ("completed", SOME_FAILURES, ALWAYS | {Action.RETRY}),
        ("completed", RequestCounts(total=5, completed=0, failed=5), ALWAYS | {Action.RETRY}),
        ("failed", None, ALWAYS | {Action.RETRY}),
        ("expired", RequestCounts(total=10, completed=4), ALWAYS | {Action.RETRY}),
        ("cancelled", RequestCounts(total=10, completed=10), ALWAYS | {Action.RETRY}),
    ],
)
def test_allowed_actions_per_status(
    status: str, counts: RequestCounts | None, expected: set[Action]
) -> None:
    assert allowed_actions(status, counts) == frozenset(expected)


def test_every_known_status_is_covered() -> None:
    for status in PENDING_STATUSES | TERMINAL_STATUSES:
        actions = allowed_actions(status, SOME_FAILURES)
        assert actions >= ALWAYS
        assert (Action.CANCEL in actions) == (status in {"validating", "in_progress", "finalizing"})
        assert (Action.MUTE in actions) == (status in PENDING_STATUSES)


def test_a_batch_already_retried_offers_no_second_retry() -> None:
    assert Action.RETRY not in allowed_actions("failed", None, retried_by="batch_2")
    assert Action.RETRY not in allowed_actions("completed", SOME_FAILURES, retried_by="batch_2")


def test_an_unknown_status_offers_only_safe_actions() -> None:
    assert allowed_actions("paused_by_openai", SOME_FAILURES) == frozenset(ALWAYS)


def test_sdk_request_counts_work_too() -> None:
    from openai.types import BatchRequestCounts

    counts = BatchRequestCounts(total=4, completed=3, failed=1)
    assert Action.RETRY in allowed_actions("completed", counts)
