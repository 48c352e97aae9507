"""Which actions a batch's state allows, as one pure function.

The row menu, the detail pane, the toolbar's Retry all, the keys and the notification's
Retry button all ask :func:`allowed_actions`, so they never disagree about what a
person may do.
It imports no Qt and is tested for every status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from batchmon.core.status import PENDING_STATUSES, TERMINAL_STATUSES
from batchmon.ui.results_view import allows_retry


class Action(StrEnum):
    """Something a person can do to a batch."""

    RETRY = "retry"
    CANCEL = "cancel"
    COPY_ID = "copy_id"
    #: Mute this batch's notifications (the row menu).
    MUTE = "mute"


class Counts(Protocol):
    """The part of ``openai.types.BatchRequestCounts`` (or a ``Progress``) used here."""

    @property
    def total(self) -> int: ...

    @property
    def completed(self) -> int: ...

    @property
    def failed(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """Plain request counts, for callers that hold numbers rather than an SDK object."""

    total: int = 0
    completed: int = 0
    failed: int = 0


CANCELLABLE_STATUSES: frozenset[str] = frozenset({"validating", "in_progress", "finalizing"})
"""OpenAI accepts a cancel only while the batch is still running (not while cancelling)."""

RETRYABLE_STATUSES: frozenset[str] = frozenset({"failed", "expired", "cancelled"})
"""Ended without doing all the work; ``completed`` qualifies only with failed requests."""

_ALWAYS = frozenset({Action.COPY_ID})


def is_partially_failed(status: str, counts: Counts | None) -> bool:
    """A ``completed`` batch where some requests failed: worth a Retry of those."""
    return status == "completed" and counts is not None and counts.failed > 0


def allowed_actions(
    status: str,
    request_counts: Counts | None = None,
    *,
    retried_by: str | None = None,
    results_state: str | None = None,
) -> frozenset[Action]:
    """The actions a batch in ``status`` with ``request_counts`` allows.

    - COPY_ID: always.
    - RETRY: ``failed``, ``expired``, ``cancelled``, and ``completed`` with failed
      requests; never once the batch has been retried (``retried_by`` names the retry,
      which is the batch to act on instead).
    - CANCEL: ``validating``, ``in_progress``, ``finalizing``.
    - MUTE: while the batch can still change (its notifications are still to come).
    - A batch whose results can never arrive (``results_state`` "batch_not_found" or
      "results_expired") allows RETRY in any status and no CANCEL: the API no longer
      knows it, or has nothing left to give.

    An unknown status (a newer API than this code) allows only COPY_ID: a guess could
    offer a button that cannot work.
    """
    if status not in PENDING_STATUSES and status not in TERMINAL_STATUSES:
        return _ALWAYS
    actions = set(_ALWAYS)
    if status in PENDING_STATUSES:
        actions.add(Action.MUTE)
    if status in CANCELLABLE_STATUSES:
        actions.add(Action.CANCEL)
    retryable = status in RETRYABLE_STATUSES or is_partially_failed(status, request_counts)
    if allows_retry(results_state):
        retryable = True
        actions.discard(Action.CANCEL)
    if retryable and retried_by is None:
        actions.add(Action.RETRY)
    return frozenset(actions)
