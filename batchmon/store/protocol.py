"""What the data API takes and returns, and the errors it raises.

:class:`~batchmon.store.api.Store` is the API itself; these rows are what its SQL
functions return (the jobs part's rows are in ``job_rows.py``), the same over either
transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ChangeKind = Literal["batch", "assets", "resync"]


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """One row of the monitoring query: a batch that still has pending assets."""

    batch_id: str
    asset_count: int
    oldest_asset_at: datetime


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One ``openai_batches`` row as stored (status as last recorded, not live)."""

    id: str
    user_id: str | None
    status: str
    endpoint: str | None = None
    model: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    created_at: datetime | None = None
    in_progress_at: datetime | None = None
    finalizing_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    expired_at: datetime | None = None
    cancelling_at: datetime | None = None
    cancelled_at: datetime | None = None
    expires_at: datetime | None = None
    last_polled_at: datetime | None = None
    applied_at: datetime | None = None
    retry_of: str | None = None
    retried_by: str | None = None
    attempt: int = 1
    asset_count: int = 0
    pending_assets: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResultsState:
    """What the worker knows about a batch's results beyond its status (migration 006).

    ``state``: refetching, results_incomplete, waiting_for_queue, resubmitted,
    batch_not_found or results_expired; ``note`` is what a person reads. The worker
    leaves the batch alone until ``next_check_at`` (None: for good).
    """

    batch_id: str
    state: str
    note: str | None = None
    attempts: int = 1
    next_check_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AssetRow:
    """One ``assets`` row, as the detail pane and retry need it."""

    id: str
    user_id: str | None
    image_url: str | None
    status: str | None
    batch_id: str | None
    tags: list[str] | None
    error: str | None
    created_at: datetime | None = None
    tagged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResultRow:
    """The outcome for one asset, ready to write: tags on success, a reason on failure."""

    asset_id: str
    ok: bool
    tags: list[str] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyCounts:
    """What one apply call changed. ``skipped`` rows were already final (idempotency)."""

    completed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: ApplyCounts) -> ApplyCounts:
        return ApplyCounts(
            self.completed + other.completed,
            self.failed + other.failed,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True, slots=True)
class PollRun:
    """One pass of the server-side poller, as recorded in ``batch_poll_runs``."""

    started_at: datetime
    finished_at: datetime | None
    checked: int
    applied: int
    failed: int
    error: str | None = None
    worker_id: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A push notification from the store.

    ``resync`` means "you may have missed changes: refetch everything"; it is emitted
    after every (re)connect of the change feed.
    """

    kind: ChangeKind
    batch_id: str | None = None
    status: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetryLink:
    """Result of ``Store.begin_retry``: whether this call linked the batches."""

    linked: bool
    moved_assets: int
    existing_retry: str | None = None


class StoreError(Exception):
    """A store operation failed in a way a person can act on (message says how)."""


class PermissionDenied(StoreError):
    """Row-level security refused the operation (wrong user, or signed out)."""


class RetryRefused(StoreError):
    """The batch was already retried; ``retried_by`` names the batch that did it."""

    def __init__(self, batch_id: str, retried_by: str) -> None:
        super().__init__(f"batch {batch_id} was already retried as {retried_by}")
        self.batch_id = batch_id
        self.retried_by = retried_by
