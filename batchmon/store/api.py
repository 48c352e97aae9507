"""The data API every part of batchmon talks to, written once over a transport.

The SQL functions in ``sql/`` are the real API; :class:`Store` is its Python face, so
the engine, the worker, the CLI and the desktop run unchanged over direct Postgres
(:class:`~batchmon.store.postgres.PostgresStore`) or Supabase
(:class:`~batchmon.store.supabase.SupabaseStore`). Each method calls its SQL function
by its named parameters through three primitives a transport provides (:meth:`_rows`,
:meth:`_value`, :meth:`_column`); paging, chunking, row conversion and the "no result"
errors live here, once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from batchmon.store.copy_text import storable
from batchmon.store.job_rows import (
    EndedJobBatch,
    JobBatch,
    JobBatchPart,
    JobCancel,
    JobSummary,
    ModelLimit,
    asset_id_pages,
    job_batch_part,
)
from batchmon.store.paging import ALL_ROWS, PAGE_ROWS, Cursor, chunks, read_pages
from batchmon.store.protocol import (
    ApplyCounts,
    AssetRow,
    BatchRow,
    Change,
    PendingBatch,
    PollRun,
    ResultRow,
    ResultsState,
    RetryLink,
    StoreError,
)
from batchmon.store.rows import parse_timestamp, row_to, rows_to

T = TypeVar("T")
Args = Mapping[str, Any]
"""A SQL function's arguments by parameter name (``{"p_limit": 1000}``)."""

#: Result rows per ``apply_batch_results`` call (one JSON array each).
APPLY_CHUNK_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Json:
    """An argument the SQL function takes as ``jsonb``; each transport encodes it."""

    value: Any


@dataclass(frozen=True, slots=True)
class _Untagged:
    """A row of ``untagged_assets``: the id, and the time its cursor continues from."""

    asset_id: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Created:
    """The row of ``record_job_batch_created``."""

    moved: int | None
    cancelled: bool | None


class Store(ABC):
    """One SQL API, two transports. Every method maps onto one SQL function.

    Intervals are passed as :class:`~datetime.timedelta` and ``jsonb`` arguments as
    :class:`Json`; a transport turns them into what its wire takes.
    """

    #: Who answered, as an error names it ("Supabase returned no result ...").
    source: ClassVar[str] = "the database"
    #: Most rows one call may return as a set (PostgREST cuts at db-max-rows).
    max_set_rows: ClassVar[int | None] = None
    #: Rows per call of the JSON apply (:meth:`apply_results`).
    chunk_rows: int = APPLY_CHUNK_ROWS

    # -- what a transport provides --------------------------------------------------

    @abstractmethod
    async def _rows(
        self, fn: str, args: Args, *, batch_id: str | None = None
    ) -> list[Mapping[str, Any]]:
        """The rows of a set- or table-returning function ``public.fn``.

        ``batch_id`` names the batch in errors that are about one (a refused retry).
        """

    @abstractmethod
    async def _value(self, fn: str, args: Args, *, batch_id: str | None = None) -> Any:
        """The scalar result of ``public.fn`` (None for void)."""

    @abstractmethod
    async def _column(self, fn: str, args: Args, *, batch_id: str | None = None) -> list[Any]:
        """The values of a ``setof`` scalar function ``public.fn``."""

    @abstractmethod
    def changes(self) -> AsyncIterator[Change]:
        """Push feed: batch and asset changes, plus ``resync`` after every (re)connect."""

    @abstractmethod
    async def close(self) -> None:
        """Stop the change feed and release the connections."""

    # -- written once over them -----------------------------------------------------

    async def _pages(
        self,
        cls: type[T],
        fn: str,
        cursor: Mapping[str, str],
        *,
        args: Args | None = None,
        limit: int = ALL_ROWS,
    ) -> list[T]:
        """Up to ``limit`` rows of a keyset-paged list function, page by page.

        ``cursor`` maps each cursor parameter to the row field it continues from.
        """
        fields = tuple(cursor.values())

        async def page(after: Cursor | None, size: int) -> list[T]:
            at = dict(zip(cursor, after or (None,) * len(cursor), strict=True))
            return rows_to(cls, await self._rows(fn, {**(args or {}), "p_limit": size, **at}))

        return await read_pages(page, lambda row: tuple(getattr(row, f) for f in fields), limit)

    async def _first(
        self, cls: type[T], fn: str, args: Args, *, batch_id: str | None = None
    ) -> T | None:
        rows = await self._rows(fn, args, batch_id=batch_id)
        return row_to(cls, rows[0]) if rows else None

    async def _one(
        self, cls: type[T], fn: str, args: Args, *, what: str, batch_id: str | None = None
    ) -> T:
        """The single row ``fn`` always returns; a StoreError when there is none."""
        found = await self._first(cls, fn, args, batch_id=batch_id)
        if found is None:
            raise StoreError(f"{self.source} returned no result for {what}")
        return found

    async def _counts(self, fn: str, batch_id: str, **more: Any) -> ApplyCounts:
        """What ``fn`` changed in the batch's assets (nothing, when it says nothing)."""
        args = {"p_batch": batch_id, **more}
        return await self._first(ApplyCounts, fn, args, batch_id=batch_id) or ApplyCounts()

    async def _by_ids(self, cls: type[T], fn: str, param: str, ids: Sequence[str]) -> list[T]:
        """Rows for ``ids``, asked for a page of ids at a time (one answer holds a page)."""
        found: list[T] = []
        async for page in chunks(ids, PAGE_ROWS):
            found.extend(rows_to(cls, await self._rows(fn, {param: page})))
        return found

    # -- batches and assets ---------------------------------------------------------

    async def pending_batches(self) -> list[PendingBatch]:
        """Every batch that still has pending assets, oldest pending asset first."""
        cursor = {"p_after_oldest": "oldest_asset_at", "p_after_batch": "batch_id"}
        return await self._pages(PendingBatch, "pending_batches", cursor)

    async def list_batches(self, *, limit: int = 10_000) -> list[BatchRow]:
        """The caller's batches as stored, newest first."""
        cursor = {"p_after_created_at": "created_at", "p_after_id": "id"}
        return await self._pages(BatchRow, "list_batches", cursor, limit=limit)

    async def get_batch(self, batch_id: str) -> BatchRow | None:
        return await self._first(BatchRow, "get_batch", {"p_batch": batch_id})

    async def last_batch_change(self) -> datetime | None:
        """When any of the caller's batches last changed: a cheap check for missed push."""
        return parse_timestamp(await self._value("last_batch_change", {}))

    async def record_statuses(self, batches: Sequence[Mapping[str, Any]]) -> int:
        """Upsert live statuses (OpenAI ``Batch`` objects as JSON dicts); returns rows."""
        if not batches:
            return 0
        args = {"p_batches": Json([dict(b) for b in batches])}
        return int(await self._value("record_batch_statuses", args) or 0)

    async def claim_due(
        self,
        worker_id: str,
        *,
        min_age: timedelta,
        interval: timedelta,
        lease: timedelta,
        limit: int = 10_000,
    ) -> list[str]:
        """Lease due batches to ``worker_id`` (``FOR UPDATE SKIP LOCKED``).

        Where one answer holds at most :attr:`max_set_rows`, no more are claimed, or the
        rest would stay claimed, unreported, until their lease ran out.
        """
        args = {
            "p_worker": worker_id,
            "p_min_age": min_age,
            "p_interval": interval,
            "p_lease": lease,
            "p_limit": limit if self.max_set_rows is None else min(limit, self.max_set_rows),
        }
        return [str(x) for x in await self._column("claim_due_batches", args)]

    async def release_claims(self, worker_id: str, batch_ids: Iterable[str]) -> int:
        ids = list(batch_ids)
        if not ids:
            return 0
        args = {"p_worker": worker_id, "p_batch_ids": ids}
        return int(await self._value("release_claims", args) or 0)

    async def renew_claims(
        self, worker_id: str, batch_ids: Iterable[str], *, lease: timedelta
    ) -> int:
        """Extend ``worker_id``'s live leases on ``batch_ids`` by ``lease`` from now."""
        ids = list(batch_ids)
        if not ids:
            return 0
        args = {"p_worker": worker_id, "p_batch_ids": ids, "p_lease": lease}
        return int(await self._value("renew_claims", args) or 0)

    async def apply_results(
        self, batch_id: str, rows: AsyncIterable[ResultRow] | Iterable[ResultRow]
    ) -> ApplyCounts:
        """Write outcomes for assets still pending under ``batch_id``, in chunks.

        Idempotent: an asset already completed or failed under this batch is skipped.
        Here each chunk is one JSON array for ``apply_batch_results``.
        """
        total = ApplyCounts()
        async for chunk in chunks(rows, self.chunk_rows):
            payload = [
                {
                    "asset_id": r.asset_id,
                    "ok": r.ok,
                    "tags": None if r.tags is None else [storable(t) for t in r.tags],
                    "error": None if r.error is None else storable(r.error),
                }
                for r in chunk
            ]
            total += await self._counts("apply_batch_results", batch_id, p_rows=Json(payload))
        return total

    async def finish_apply(self, batch_id: str, *, unreturned_reason: str) -> ApplyCounts:
        """Fail assets of the batch that got no result line; set ``applied_at`` once."""
        return await self._counts("finish_batch_apply", batch_id, p_reason=unreturned_reason)

    async def mark_batch_failed(self, batch_id: str, reason: str) -> ApplyCounts:
        """Fail every still-pending asset of a batch that produced no results at all."""
        return await self._counts("mark_batch_failed", batch_id, p_reason=reason)

    async def batch_assets(self, batch_id: str, *, limit: int = 100_000) -> list[AssetRow]:
        cursor = {"p_after_created_at": "created_at", "p_after_id": "id"}
        args = {"p_batch": batch_id}
        return await self._pages(AssetRow, "batch_assets", cursor, args=args, limit=limit)

    async def batch_asset_ids(self, batch_id: str) -> list[str]:
        """Every asset id of the batch (no limit): the ids an apply accepts lines for."""
        ids = await self._value("batch_asset_ids", {"p_batch": batch_id}, batch_id=batch_id)
        return [str(x) for x in ids or ()]

    async def assets_by_ids(self, asset_ids: Sequence[str]) -> list[AssetRow]:
        return await self._by_ids(AssetRow, "assets_by_ids", "p_ids", asset_ids)

    async def untagged_asset_ids(self, *, limit: int | None = None) -> list[str]:
        """The caller's assets never sent for tagging (no status, an image), oldest first."""
        cursor = {"p_after_created_at": "created_at", "p_after_id": "asset_id"}
        most = ALL_ROWS if limit is None else limit
        found = await self._pages(_Untagged, "untagged_assets", cursor, limit=most)
        return [a.asset_id for a in found]

    async def untagged_count(self) -> int:
        """How many assets ``untagged_asset_ids`` would return without a limit."""
        return int(await self._value("untagged_asset_count", {}) or 0)

    async def mark_submitted(self, batch: Mapping[str, Any], asset_ids: Sequence[str]) -> int:
        """Record a new batch and point its assets at it as ``pending``."""
        args = {"p_batch": Json(dict(batch)), "p_asset_ids": list(asset_ids)}
        return int(await self._value("mark_batch_submitted", args) or 0)

    async def begin_retry(
        self, old_batch_id: str, new_batch: Mapping[str, Any], asset_ids: Sequence[str]
    ) -> RetryLink:
        """Atomically record the new batch, re-point ``asset_ids`` and link old/new.

        Raises :class:`RetryRefused` when ``old_batch_id`` already has another retry.
        """
        args = {
            "p_old_batch": old_batch_id,
            "p_new_batch": Json(dict(new_batch)),
            "p_asset_ids": list(asset_ids),
        }
        what = f"the retry of {old_batch_id}"
        return await self._one(
            RetryLink, "begin_batch_retry", args, what=what, batch_id=old_batch_id
        )

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
        seconds = check_again_in.total_seconds() if check_again_in is not None else None
        args = {"p_batch": batch_id, "p_state": state, "p_note": note, "p_check_again_s": seconds}
        return int(await self._value("set_results_state", args, batch_id=batch_id) or 0)

    async def results_states(self, batch_ids: Sequence[str]) -> dict[str, ResultsState]:
        """The results states of those of ``batch_ids`` that have one."""
        ids = list(dict.fromkeys(batch_ids))
        states = await self._by_ids(ResultsState, "batch_results_states", "p_batch_ids", ids)
        return {s.batch_id: s for s in states}

    async def record_poll_run(self, run: PollRun) -> int:
        args = {
            "p_worker": run.worker_id,
            "p_started_at": run.started_at,
            "p_finished_at": run.finished_at,
            "p_checked": run.checked,
            "p_applied": run.applied,
            "p_failed": run.failed,
            "p_error": run.error,
        }
        return int(await self._value("record_poll_run", args))

    async def recent_poll_runs(self, *, limit: int = 20) -> list[PollRun]:
        cursor = {"p_before_started_at": "started_at", "p_before_id": "id"}
        return await self._pages(PollRun, "recent_poll_runs", cursor, limit=limit)

    # -- jobs and the queue (migrations 007 and 010) --------------------------------

    async def create_job(
        self,
        model: str,
        endpoint: str,
        *,
        attempts: int = 2,
        max_cost: float | None = None,
        owner: str | None = None,
        planning: bool = False,
        image_size: tuple[int, int] | None = None,
    ) -> str:
        """A new, empty job; returns its id. ``owner`` only counts on server connections.

        A ``planning`` job is left alone by the queue until :meth:`start_job`.
        ``image_size`` (width, height) is the size its images are estimated at; the
        submitter estimates what it plans again for the job at the same size.
        """
        args = {
            "p_model": model,
            "p_endpoint": endpoint,
            "p_attempts": attempts,
            "p_max_cost": max_cost,
            "p_owner": owner,
            "p_planning": planning,
            "p_image_size": list(image_size) if image_size else None,
        }
        return str(await self._value("create_job", args))

    async def start_job(self, job_id: str) -> bool:
        """Open a fully planned job to the queue; False when it is not being planned."""
        return bool(await self._value("start_job", {"p_job": job_id}))

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
        pages = asset_id_pages(asset_ids)
        args = {
            "p_job": job_id,
            "p_attempt": attempt,
            "p_request_count": len(asset_ids),
            "p_bytes": byte_size,
            "p_tokens": estimated_tokens,
            "p_cost": estimated_cost,
            "p_asset_ids": pages[0],
            "p_complete": len(pages) == 1,
        }
        job_batch_id = int(await self._value("add_job_batch", args))
        for number, page in enumerate(pages[1:], start=2):
            more = {
                "p_job_batch": job_batch_id,
                "p_asset_ids": page,
                "p_complete": number == len(pages),
            }
            await self._value("extend_job_batch", more)
        return job_batch_id

    async def claim_job_batch(
        self, worker_id: str, *, lease: timedelta, default_limits: Mapping[str, int]
    ) -> JobBatch | None:
        """Lease the next planned batch that fits its model's headroom, or None."""
        args = {"p_worker": worker_id, "p_lease": lease, "p_defaults": Json(dict(default_limits))}
        return await self._first(JobBatch, "claim_job_batch", args)

    async def record_job_batch_upload(
        self, job_batch_id: int, worker_id: str, file_id: str, uploaded_at: int
    ) -> bool:
        """Note the input file uploaded for the batch's current retry token."""
        args = {
            "p_job_batch": job_batch_id,
            "p_worker": worker_id,
            "p_file_id": file_id,
            "p_uploaded_at": uploaded_at,
        }
        return bool(await self._value("record_job_batch_upload", args))

    async def record_job_batch_created(
        self, job_batch_id: int, batch: Mapping[str, Any]
    ) -> tuple[int, bool]:
        """Record the OpenAI batch made for it, move its assets; (moved, job cancelled)."""
        args = {"p_job_batch": job_batch_id, "p_batch": Json(dict(batch))}
        what = f"job batch {job_batch_id}"
        created = await self._one(_Created, "record_job_batch_created", args, what=what)
        return int(created.moved or 0), bool(created.cancelled)

    async def record_job_batch_refused(
        self, job_batch_id: int, note: str, *, retry_in: timedelta
    ) -> bool:
        """Put a batch refused for queue room back in the queue after ``retry_in``."""
        args = {
            "p_job_batch": job_batch_id,
            "p_note": note,
            "p_retry_in_s": retry_in.total_seconds(),
        }
        return bool(await self._value("record_job_batch_refused", args))

    async def split_job_batch(self, job_batch_id: int, parts: Sequence[JobBatchPart]) -> int:
        """Split a refused batch too big for its limit; it keeps the first part."""
        args = {"p_job_batch": job_batch_id, "p_parts": Json([job_batch_part(p) for p in parts])}
        return int(await self._value("split_job_batch", args) or 0)

    async def ended_job_batches(self) -> list[EndedJobBatch]:
        """Submitted planned batches whose OpenAI batch has ended, to settle."""
        return await self._pages(EndedJobBatch, "ended_job_batches", {"p_after_id": "id"})

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
        args = {
            "p_job_batch": job_batch_id,
            "p_actual_cost": actual_cost,
            "p_retry_ids": list(retry_ids),
            "p_retry_bytes": retry_bytes,
            "p_retry_tokens": retry_tokens,
            "p_retry_cost": retry_cost,
        }
        value = await self._value("finish_job_batch", args)
        return None if value is None else int(value)

    async def set_model_limit(self, model: str, limit: int, *, source: str = "configured") -> None:
        """Store a model's enqueued-token limit (``configured`` or ``learned``)."""
        args = {"p_model": model, "p_limit": limit, "p_source": source}
        await self._value("set_model_limit", args)

    async def clear_model_limit(self, model: str) -> bool:
        """Forget a model's stored limit (its default applies again); False if none was."""
        return bool(await self._value("clear_model_limit", {"p_model": model}))

    async def model_limits(self) -> list[ModelLimit]:
        return await self._pages(ModelLimit, "model_limits", {"p_after_model": "model"})

    async def job_summaries(self, *, limit: int = 10_000) -> list[JobSummary]:
        cursor = {"p_before_created_at": "created_at", "p_before_id": "id"}
        return await self._pages(JobSummary, "job_summaries", cursor, limit=limit)

    async def get_job(self, job_id: str) -> JobSummary | None:
        return await self._first(JobSummary, "get_job", {"p_job": job_id})

    async def job_batches(self, job_id: str) -> list[JobBatch]:
        cursor = {"p_after_ordinal": "ordinal"}
        return await self._pages(JobBatch, "job_batches", cursor, args={"p_job": job_id})

    async def cancel_job(self, job_id: str) -> JobCancel:
        """Drop the job's unsubmitted batches; returns the OpenAI batches to cancel."""
        what = f"cancelling job {job_id}"
        return await self._one(JobCancel, "cancel_job", {"p_job": job_id}, what=what)
