"""The data API every part of batchmon talks to.

The SQL functions in ``sql/`` are the real API; this protocol is its Python face, so the
engine, the worker, the CLI and the desktop run unchanged over direct Postgres
(:class:`~batchmon.store.postgres.PostgresStore`) or Supabase
(:class:`~batchmon.store.supabase.SupabaseStore`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from batchmon.store.job_rows import (
    EndedJobBatch,
    JobBatch,
    JobBatchPart,
    JobCancel,
    JobSummary,
    ModelLimit,
)

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
    """Result of :meth:`Store.begin_retry`: whether this call linked the batches."""

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


@runtime_checkable
class Store(Protocol):
    """One SQL API, two transports. Every method maps onto one SQL function."""

    async def pending_batches(self) -> list[PendingBatch]: ...

    async def list_batches(self, *, limit: int = 10_000) -> list[BatchRow]: ...

    async def get_batch(self, batch_id: str) -> BatchRow | None: ...

    async def last_batch_change(self) -> datetime | None:
        """When any of the caller's batches last changed: a cheap check for missed push."""
        ...

    async def record_statuses(self, batches: Sequence[Mapping[str, Any]]) -> int:
        """Upsert live statuses (OpenAI ``Batch`` objects as JSON dicts); returns rows."""
        ...

    async def claim_due(
        self,
        worker_id: str,
        *,
        min_age: timedelta,
        interval: timedelta,
        lease: timedelta,
        limit: int = 10_000,
    ) -> list[str]:
        """Lease due batches to ``worker_id`` (``FOR UPDATE SKIP LOCKED``)."""
        ...

    async def release_claims(self, worker_id: str, batch_ids: Iterable[str]) -> int: ...

    async def renew_claims(
        self, worker_id: str, batch_ids: Iterable[str], *, lease: timedelta
    ) -> int:
        """Extend ``worker_id``'s live leases on ``batch_ids`` by ``lease`` from now."""
        ...

    async def apply_results(
        self, batch_id: str, rows: AsyncIterable[ResultRow] | Iterable[ResultRow]
    ) -> ApplyCounts:
        """Write outcomes for assets still pending under ``batch_id``, in chunks.

        Idempotent: an asset already completed or failed under this batch is skipped.
        """
        ...

    async def finish_apply(self, batch_id: str, *, unreturned_reason: str) -> ApplyCounts:
        """Fail assets of the batch that got no result line; set ``applied_at`` once."""
        ...

    async def mark_batch_failed(self, batch_id: str, reason: str) -> ApplyCounts:
        """Fail every still-pending asset of a batch that produced no results at all."""
        ...

    async def batch_assets(self, batch_id: str, *, limit: int = 100_000) -> list[AssetRow]: ...

    async def batch_asset_ids(self, batch_id: str) -> list[str]:
        """Every asset id of the batch (no limit): the ids an apply accepts lines for."""
        ...

    async def assets_by_ids(self, asset_ids: Sequence[str]) -> list[AssetRow]: ...

    async def untagged_asset_ids(self, *, limit: int | None = None) -> list[str]:
        """The caller's assets never sent for tagging (no status, an image), oldest first."""
        ...

    async def untagged_count(self) -> int:
        """How many assets ``untagged_asset_ids`` would return without a limit."""
        ...

    async def mark_submitted(self, batch: Mapping[str, Any], asset_ids: Sequence[str]) -> int:
        """Record a new batch and point its assets at it as ``pending``."""
        ...

    async def begin_retry(
        self, old_batch_id: str, new_batch: Mapping[str, Any], asset_ids: Sequence[str]
    ) -> RetryLink:
        """Atomically record the new batch, re-point ``asset_ids`` and link old/new.

        Raises :class:`RetryRefused` when ``old_batch_id`` already has another retry.
        """
        ...

    async def set_results_state(
        self,
        batch_id: str,
        state: str | None,
        note: str | None = None,
        *,
        check_again_in: timedelta | None = None,
    ) -> int:
        """Record what the worker knows about a batch's results; None clears it.

        The batch is not claimed again for ``check_again_in`` (never, when None).
        Returns the attempts made in this state so far.
        """
        ...

    async def results_states(self, batch_ids: Sequence[str]) -> dict[str, ResultsState]:
        """The results states of those of ``batch_ids`` that have one."""
        ...

    async def record_poll_run(self, run: PollRun) -> int: ...

    async def recent_poll_runs(self, *, limit: int = 20) -> list[PollRun]: ...

    def changes(self) -> AsyncIterator[Change]:
        """Push feed: batch and asset changes, plus ``resync`` after every (re)connect."""
        ...

    async def close(self) -> None: ...

    # -- jobs and the queue (migration 007) --

    async def create_job(
        self,
        model: str,
        endpoint: str,
        *,
        attempts: int = 2,
        max_cost: float | None = None,
        owner: str | None = None,
        planning: bool = False,
    ) -> str:
        """A new, empty job; returns its id. ``owner`` only counts on server connections.

        A ``planning`` job is left alone by the queue until :meth:`start_job`.
        """
        ...

    async def start_job(self, job_id: str) -> bool:
        """Open a fully planned job to the queue; False when it is not being planned."""
        ...

    async def add_job_batch(
        self,
        job_id: str,
        asset_ids: Sequence[str],
        *,
        attempt: int = 1,
        byte_size: int = 0,
        estimated_tokens: int = 0,
        estimated_cost: float | None = None,
    ) -> int:
        """Store one planned batch at the end of the job (ids sent in pages); its id."""
        ...

    async def claim_job_batch(
        self, worker_id: str, *, lease: timedelta, default_limits: Mapping[str, int]
    ) -> JobBatch | None:
        """Lease the next planned batch that fits its model's headroom, or None."""
        ...

    async def record_job_batch_upload(
        self, job_batch_id: int, worker_id: str, file_id: str, uploaded_at: int
    ) -> bool:
        """Note the input file uploaded for the batch's current retry token."""
        ...

    async def record_job_batch_created(
        self, job_batch_id: int, batch: Mapping[str, Any]
    ) -> tuple[int, bool]:
        """Record the OpenAI batch made for it, move its assets; (moved, job cancelled)."""
        ...

    async def record_job_batch_refused(
        self, job_batch_id: int, note: str, *, retry_in: timedelta
    ) -> bool:
        """Put a batch refused for queue room back in the queue after ``retry_in``."""
        ...

    async def split_job_batch(self, job_batch_id: int, parts: Sequence[JobBatchPart]) -> int:
        """Split a refused batch too big for its limit; it keeps the first part."""
        ...

    async def ended_job_batches(self) -> list[EndedJobBatch]:
        """Submitted planned batches whose OpenAI batch has ended, to settle."""
        ...

    async def finish_job_batch(
        self,
        job_batch_id: int,
        *,
        actual_cost: float | None,
        retry_ids: Sequence[str] = (),
        retry_bytes: int = 0,
        retry_tokens: int = 0,
        retry_cost: float | None = None,
    ) -> int | None:
        """Settle a batch; its remainder becomes a new planned batch (its id) if allowed."""
        ...

    async def set_model_limit(self, model: str, limit: int, *, source: str = "configured") -> None:
        """Store a model's enqueued-token limit (``configured`` or ``learned``)."""
        ...

    async def clear_model_limit(self, model: str) -> bool:
        """Forget a model's stored limit (its default applies again); False if none was."""
        ...

    async def model_limits(self) -> list[ModelLimit]: ...

    async def job_summaries(self, *, limit: int = 10_000) -> list[JobSummary]: ...

    async def get_job(self, job_id: str) -> JobSummary | None: ...

    async def job_batches(self, job_id: str) -> list[JobBatch]: ...

    async def cancel_job(self, job_id: str) -> JobCancel:
        """Drop the job's unsubmitted batches; returns the OpenAI batches to cancel."""
        ...
