"""PostgresStore: the Store protocol over a direct PostgreSQL connection (psycopg 3).

Every method calls one SQL function from ``sql/``, so RLS and idempotency are the
database's, not this module's. Bulk apply streams results in chunks through ``COPY``
into a session-local staging table and applies each chunk with one ``UPDATE ... FROM``
(``apply_staged_results``), one transaction per chunk: a crash mid-apply keeps what was
committed and a rerun applies only what is still pending. The change feed is a
dedicated ``LISTEN`` connection that reconnects with backoff and says ``resync`` after
every (re)connect, because NOTIFY messages sent while it was away are gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from batchmon.core.backoff import Backoff
from batchmon.store.copy_text import copy_lines
from batchmon.store.errors import connect_error, redact, require_migrated, translate
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

log = logging.getLogger(__name__)

CHANNEL = "batchmon_changes"
APPLY_CHUNK = 5_000
#: How long a readable LISTEN socket may take to deliver its NOTIFY, in seconds.
READ_GRACE = 1.0
_BATCH_FIELDS = tuple(f.name for f in fields(BatchRow))
_COPY_STAGE = "copy pg_temp.batchmon_apply_rows (asset_id, ok, tags, error) from stdin"


class PostgresStore:
    """The data API over psycopg: a small pool for calls, one extra connection per feed."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        conninfo: str,
        *,
        chunk_size: int = APPLY_CHUNK,
        backoff: Backoff | None = None,
        heartbeat: float = 30.0,
    ) -> None:
        self._pool = pool
        self._conninfo = conninfo
        self._chunk_size = chunk_size
        self._backoff = backoff or Backoff(jitter=0.25)
        self._heartbeat = heartbeat
        self._listeners: set[psycopg.AsyncConnection[Any]] = set()
        self._wakers: set[asyncio.Future[bool]] = set()
        self._closed = False

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        chunk_size: int = APPLY_CHUNK,
        backoff: Backoff | None = None,
        heartbeat: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> PostgresStore:
        """Connect, check the schema is migrated, and open the pool.

        Raises :class:`StoreError` saying what to fix when the server cannot be reached
        or the batchmon schema is missing.
        """
        await _check_reachable_and_migrated(conninfo, connect_timeout)
        pool: AsyncConnectionPool = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,
            name="batchmon",
        )
        try:
            await pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            await pool.close()
            raise connect_error(conninfo, exc) from exc
        return cls(pool, conninfo, chunk_size=chunk_size, backoff=backoff, heartbeat=heartbeat)

    async def close(self) -> None:
        self._closed = True
        for waiter in list(self._wakers):
            if not waiter.done():
                waiter.set_result(False)
        for conn in list(self._listeners):
            await conn.close()
        await self._pool.close()

    # -- calls -------------------------------------------------------------------------

    @asynccontextmanager
    async def _cursor(self, *, batch_id: str | None = None) -> AsyncIterator[Any]:
        if self._closed:
            raise StoreError("the store is closed")
        try:
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                yield cur
        except PoolTimeout as exc:
            raise StoreError(
                f"no database connection available from {redact(self._conninfo)}: {exc}"
            ) from exc
        except psycopg.Error as exc:
            raise translate(exc, batch_id=batch_id) from exc

    async def _rows(self, query: str, params: Sequence[Any] = (), **kw: Any) -> list[dict]:
        async with self._cursor(**kw) as cur:
            await cur.execute(query.encode(), params)
            return cast(list[dict], await cur.fetchall())

    async def _value(self, query: str, params: Sequence[Any] = (), **kw: Any) -> Any:
        rows = await self._rows(query, params, **kw)
        return next(iter(rows[0].values())) if rows else None

    async def pending_batches(self) -> list[PendingBatch]:
        async def page(after: Cursor | None, size: int) -> list[PendingBatch]:
            rows = await self._rows(
                "select * from public.pending_batches(%s, %s, %s)", (size, *(after or (None, None)))
            )
            return [
                PendingBatch(r["batch_id"], r["asset_count"], r["oldest_asset_at"]) for r in rows
            ]

        return await read_pages(page, lambda p: (p.oldest_asset_at, p.batch_id), ALL_ROWS)

    async def list_batches(self, *, limit: int = 10_000) -> list[BatchRow]:
        async def page(after: Cursor | None, size: int) -> list[BatchRow]:
            rows = await self._rows(
                "select * from public.list_batches(%s, %s, %s)", (size, *(after or (None, None)))
            )
            return [_batch_row(r) for r in rows]

        return await read_pages(page, lambda b: (b.created_at, b.id), limit)

    async def get_batch(self, batch_id: str) -> BatchRow | None:
        rows = await self._rows("select * from public.get_batch(%s)", (batch_id,))
        return _batch_row(rows[0]) if rows else None

    async def last_batch_change(self) -> datetime | None:
        value = await self._value("select public.last_batch_change()")
        return value if isinstance(value, datetime) else None

    async def record_statuses(self, batches: Sequence[Mapping[str, Any]]) -> int:
        if not batches:
            return 0
        payload = Jsonb([dict(b) for b in batches], dumps=_dumps)
        return int(await self._value("select public.record_batch_statuses(%s)", (payload,)))

    async def claim_due(
        self,
        worker_id: str,
        *,
        min_age: timedelta,
        interval: timedelta,
        lease: timedelta,
        limit: int = 10_000,
    ) -> list[str]:
        rows = await self._rows(
            "select * from public.claim_due_batches(%s, %s, %s, %s, %s) as id",
            (worker_id, min_age, interval, lease, limit),
        )
        return [r["id"] for r in rows]

    async def release_claims(self, worker_id: str, batch_ids: Iterable[str]) -> int:
        ids = list(batch_ids)
        if not ids:
            return 0
        return int(await self._value("select public.release_claims(%s, %s)", (worker_id, ids)))

    async def renew_claims(
        self, worker_id: str, batch_ids: Iterable[str], *, lease: timedelta
    ) -> int:
        ids = list(batch_ids)
        if not ids:
            return 0
        return int(
            await self._value("select public.renew_claims(%s, %s, %s)", (worker_id, ids, lease))
        )

    async def apply_results(
        self, batch_id: str, rows: AsyncIterable[ResultRow] | Iterable[ResultRow]
    ) -> ApplyCounts:
        """Stage chunk k+1 (COPY, on a second connection) while chunk k is applied.

        Chunks are still applied one after another, in input order, so when an asset
        appears twice the first line wins, exactly as within one chunk.
        """
        total = ApplyCounts()
        applying: asyncio.Task[ApplyCounts] | None = None
        try:
            async for chunk in chunks(rows, self._chunk_size):
                try:
                    staged = await self._stage(chunk, batch_id)
                except BaseException:
                    if applying is not None:  # the chunk before is good: let it land
                        with suppress(StoreError):
                            await applying
                    raise
                if applying is not None:
                    try:
                        total += await applying
                    except BaseException:
                        await self._release(staged)
                        raise
                applying = asyncio.create_task(self._apply_staged(staged, batch_id))
            if applying is not None:
                total += await applying
        finally:
            if applying is not None and not applying.done():
                applying.cancel()
                with suppress(asyncio.CancelledError, StoreError):
                    await applying
        return total

    async def _stage(self, chunk: list[ResultRow], batch_id: str) -> psycopg.AsyncConnection[Any]:
        """A pooled connection, inside a transaction, with ``chunk`` copied into staging."""
        if self._closed:
            raise StoreError("the store is closed")
        try:
            conn = await self._pool.getconn()
        except PoolTimeout as exc:
            raise StoreError(
                f"no database connection available from {redact(self._conninfo)}: {exc}"
            ) from exc
        try:
            await conn.set_autocommit(False)
            async with conn.cursor() as cur:
                await cur.execute(b"select public.batchmon_apply_stage()")
                async with cur.copy(_COPY_STAGE.encode()) as copy:
                    await copy.write(copy_lines(chunk).encode())
        except BaseException as exc:
            await self._release(conn)
            if isinstance(exc, psycopg.Error):
                raise translate(exc, batch_id=batch_id) from exc
            raise
        return conn

    async def _apply_staged(self, conn: psycopg.AsyncConnection[Any], batch_id: str) -> ApplyCounts:
        """One UPDATE ... FROM over the staged chunk, committed; the connection goes back."""
        try:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(b"select * from public.apply_staged_results(%s)", (batch_id,))
                counts = await cur.fetchone()
            await conn.commit()
            return _counts(counts)
        except psycopg.Error as exc:
            raise translate(exc, batch_id=batch_id) from exc
        finally:
            await self._release(conn)

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Roll back whatever is open and return the connection in autocommit mode."""
        with suppress(psycopg.Error):
            if conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.rollback()
            await conn.set_autocommit(True)
        await self._pool.putconn(conn)

    async def finish_apply(self, batch_id: str, *, unreturned_reason: str) -> ApplyCounts:
        rows = await self._rows(
            "select * from public.finish_batch_apply(%s, %s)", (batch_id, unreturned_reason)
        )
        return _counts(rows[0])

    async def mark_batch_failed(self, batch_id: str, reason: str) -> ApplyCounts:
        rows = await self._rows(
            "select * from public.mark_batch_failed(%s, %s)", (batch_id, reason)
        )
        return _counts(rows[0])

    async def batch_assets(self, batch_id: str, *, limit: int = 100_000) -> list[AssetRow]:
        async def page(after: Cursor | None, size: int) -> list[AssetRow]:
            rows = await self._rows(
                "select * from public.batch_assets(%s, %s, %s, %s)",
                (batch_id, size, *(after or (None, None))),
            )
            return [AssetRow(**r) for r in rows]

        return await read_pages(page, lambda a: (a.created_at, a.id), limit)

    async def batch_asset_ids(self, batch_id: str) -> list[str]:
        async with self._cursor() as cur:
            await cur.execute(b"select public.batch_asset_ids(%s)", (batch_id,))
            row = await cur.fetchone()
        return list(next(iter(row.values())) or []) if row else []

    async def assets_by_ids(self, asset_ids: Sequence[str]) -> list[AssetRow]:
        found: list[AssetRow] = []
        async for ids in chunks(asset_ids, PAGE_ROWS):
            rows = await self._rows("select * from public.assets_by_ids(%s)", (ids,))
            found.extend(AssetRow(**r) for r in rows)
        return found

    async def untagged_asset_ids(self, *, limit: int | None = None) -> list[str]:
        async def page(after: Cursor | None, size: int) -> list[Cursor]:
            rows = await self._rows(
                "select * from public.untagged_assets(%s, %s, %s)",
                (size, *(after or (None, None))),
            )
            return [(r["created_at"], r["asset_id"]) for r in rows]

        rows = await read_pages(page, lambda r: r, ALL_ROWS if limit is None else limit)
        return [asset_id for _, asset_id in rows]

    async def untagged_count(self) -> int:
        return int(await self._value("select public.untagged_asset_count()"))

    async def mark_submitted(self, batch: Mapping[str, Any], asset_ids: Sequence[str]) -> int:
        payload = Jsonb(dict(batch), dumps=_dumps)
        return int(
            await self._value(
                "select public.mark_batch_submitted(%s, %s)", (payload, list(asset_ids))
            )
        )

    async def begin_retry(
        self, old_batch_id: str, new_batch: Mapping[str, Any], asset_ids: Sequence[str]
    ) -> RetryLink:
        rows = await self._rows(
            "select * from public.begin_batch_retry(%s, %s, %s)",
            (old_batch_id, Jsonb(dict(new_batch), dumps=_dumps), list(asset_ids)),
            batch_id=old_batch_id,
        )
        r = rows[0]
        return RetryLink(r["linked"], r["moved_assets"], r["existing_retry"])

    async def set_results_state(
        self,
        batch_id: str,
        state: str | None,
        note: str | None = None,
        *,
        check_again_in: timedelta | None = None,
    ) -> int:
        seconds = check_again_in.total_seconds() if check_again_in is not None else None
        return int(
            await self._value(
                "select public.set_results_state(%s, %s, %s, %s)",
                (batch_id, state, note, seconds),
            )
        )

    async def results_states(self, batch_ids: Sequence[str]) -> dict[str, ResultsState]:
        rows = await self._rows(
            "select * from public.batch_results_states(%s)", (list(dict.fromkeys(batch_ids)),)
        )
        return {r["batch_id"]: ResultsState(**r) for r in rows}

    async def record_poll_run(self, run: PollRun) -> int:
        return int(
            await self._value(
                "select public.record_poll_run(%s, %s, %s, %s, %s, %s, %s)",
                (
                    run.worker_id,
                    run.started_at,
                    run.finished_at,
                    run.checked,
                    run.applied,
                    run.failed,
                    run.error,
                ),
            )
        )

    async def recent_poll_runs(self, *, limit: int = 20) -> list[PollRun]:
        async def page(before: Cursor | None, size: int) -> list[PollRun]:
            rows = await self._rows(
                "select * from public.recent_poll_runs(%s, %s, %s)",
                (size, *(before or (None, None))),
            )
            return [PollRun(**r) for r in rows]

        return await read_pages(page, lambda r: (r.started_at, r.id), limit)

    # -- push --------------------------------------------------------------------------

    def changes(self) -> AsyncIterator[Change]:
        return self._listen()

    async def _listen(self) -> AsyncIterator[Change]:
        backoff = self._backoff.reset()
        reconnect_now = True  # a dropped feed is retried at once, then with backoff
        while not self._closed:
            if not reconnect_now:
                await asyncio.sleep(backoff.delay)
                backoff = backoff.next()
            reconnect_now = False
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
                log.warning(
                    "change feed: cannot connect (%s); retrying", connect_error(self._conninfo, exc)
                )
                continue
            self._listeners.add(conn)
            try:
                await conn.execute(f"listen {CHANNEL}".encode())
                backoff = backoff.reset()
                yield Change("resync")
                while not self._closed:
                    readable = await self._readable(conn)
                    if self._closed:
                        break
                    if readable:
                        # Something arrived: read it (a message that is not a NOTIFY
                        # costs at most READ_GRACE; a dropped connection raises here).
                        notes = conn.notifies(timeout=READ_GRACE, stop_after=1)
                    else:
                        await conn.execute(b"select 1")  # quiet for a while: still alive?
                        notes = conn.notifies(timeout=0)  # any that came with the answer
                    async for note in notes:
                        change = _parse_change(note.payload)
                        if change is not None:
                            yield change
                reconnect_now = True
            except psycopg.OperationalError as exc:
                if not self._closed:
                    log.warning("change feed: connection lost (%s); reconnecting", exc)
                reconnect_now = True
            finally:
                self._listeners.discard(conn)
                await conn.close()

    async def _readable(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Sleep until the LISTEN socket has data (True) or the heartbeat is due (False).

        psycopg's own ``notifies(timeout=...)`` wakes every 0.1 s to check the time; a
        reader callback keeps an idle desktop truly idle. :meth:`close` wakes it early.
        """
        loop = asyncio.get_running_loop()
        fd = conn.pgconn.socket
        ready: asyncio.Future[bool] = loop.create_future()

        def wake(value: bool) -> None:
            if not ready.done():
                ready.set_result(value)

        loop.add_reader(fd, wake, True)
        timer = loop.call_later(self._heartbeat, wake, False)
        self._wakers.add(ready)
        try:
            return await ready
        finally:
            self._wakers.discard(ready)
            timer.cancel()
            with suppress(OSError, ValueError):
                loop.remove_reader(fd)

    # -- jobs and the queue (migration 007) -------------------------------------------

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
        value = await self._value(
            "select public.create_job(%s, %s, %s, %s, %s, %s)",
            (model, endpoint, attempts, max_cost, owner, planning),
        )
        return str(value)

    async def start_job(self, job_id: str) -> bool:
        return bool(await self._value("select public.start_job(%s)", (job_id,)))

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
        pages = asset_id_pages(asset_ids)
        batch_id = int(
            await self._value(
                "select public.add_job_batch(%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    job_id,
                    attempt,
                    len(asset_ids),
                    byte_size,
                    estimated_tokens,
                    estimated_cost,
                    pages[0],
                    len(pages) == 1,
                ),
            )
        )
        for number, page in enumerate(pages[1:], start=2):
            await self._value(
                "select public.extend_job_batch(%s, %s, %s)",
                (batch_id, page, number == len(pages)),
            )
        return batch_id

    async def claim_job_batch(
        self, worker_id: str, *, lease: timedelta, default_limits: Mapping[str, int]
    ) -> JobBatch | None:
        rows = await self._rows(
            "select * from public.claim_job_batch(%s, %s, %s)",
            (worker_id, lease, Jsonb(dict(default_limits))),
        )
        return _job_batch(rows[0]) if rows else None

    async def record_job_batch_upload(
        self, job_batch_id: int, worker_id: str, file_id: str, uploaded_at: int
    ) -> bool:
        return bool(
            await self._value(
                "select public.record_job_batch_upload(%s, %s, %s, %s)",
                (job_batch_id, worker_id, file_id, uploaded_at),
            )
        )

    async def record_job_batch_created(
        self, job_batch_id: int, batch: Mapping[str, Any]
    ) -> tuple[int, bool]:
        rows = await self._rows(
            "select * from public.record_job_batch_created(%s, %s)",
            (job_batch_id, Jsonb(dict(batch), dumps=_dumps)),
        )
        return int(rows[0]["moved"]), bool(rows[0]["cancelled"])

    async def record_job_batch_refused(
        self, job_batch_id: int, note: str, *, retry_in: timedelta
    ) -> bool:
        return bool(
            await self._value(
                "select public.record_job_batch_refused(%s, %s, %s)",
                (job_batch_id, note, retry_in.total_seconds()),
            )
        )

    async def split_job_batch(self, job_batch_id: int, parts: Sequence[JobBatchPart]) -> int:
        payload = Jsonb([job_batch_part(p) for p in parts])
        return int(
            await self._value("select public.split_job_batch(%s, %s)", (job_batch_id, payload))
        )

    async def ended_job_batches(self) -> list[EndedJobBatch]:
        async def page(after: Cursor | None, size: int) -> list[EndedJobBatch]:
            rows = await self._rows(
                "select * from public.ended_job_batches(%s, %s)", (size, *(after or (None,)))
            )
            return [EndedJobBatch(**{**r, "job_id": str(r["job_id"])}) for r in rows]

        return await read_pages(page, lambda b: (b.id,), ALL_ROWS)

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
        value = await self._value(
            "select public.finish_job_batch(%s, %s, %s, %s, %s, %s)",
            (job_batch_id, actual_cost, list(retry_ids), retry_bytes, retry_tokens, retry_cost),
        )
        return None if value is None else int(value)

    async def set_model_limit(self, model: str, limit: int, *, source: str = "configured") -> None:
        await self._rows("select public.set_model_limit(%s, %s, %s)", (model, limit, source))

    async def clear_model_limit(self, model: str) -> bool:
        return bool(await self._value("select public.clear_model_limit(%s)", (model,)))

    async def model_limits(self) -> list[ModelLimit]:
        async def page(after: Cursor | None, size: int) -> list[ModelLimit]:
            rows = await self._rows(
                "select * from public.model_limits(%s, %s)", (size, *(after or (None,)))
            )
            return [ModelLimit(**r) for r in rows]

        return await read_pages(page, lambda m: (m.model,), ALL_ROWS)

    async def job_summaries(self, *, limit: int = 10_000) -> list[JobSummary]:
        async def page(before: Cursor | None, size: int) -> list[JobSummary]:
            rows = await self._rows(
                "select * from public.job_summaries(%s, %s, %s)", (size, *(before or (None, None)))
            )
            return [_job_summary(r) for r in rows]

        return await read_pages(page, lambda j: (j.created_at, j.id), limit)

    async def get_job(self, job_id: str) -> JobSummary | None:
        rows = await self._rows("select * from public.get_job(%s)", (job_id,))
        return _job_summary(rows[0]) if rows else None

    async def job_batches(self, job_id: str) -> list[JobBatch]:
        async def page(after: Cursor | None, size: int) -> list[JobBatch]:
            rows = await self._rows(
                "select * from public.job_batches(%s, %s, %s)", (job_id, size, *(after or (None,)))
            )
            return [_job_batch(r) for r in rows]

        return await read_pages(page, lambda b: (b.ordinal,), ALL_ROWS)

    async def cancel_job(self, job_id: str) -> JobCancel:
        rows = await self._rows("select * from public.cancel_job(%s)", (job_id,))
        return JobCancel(int(rows[0]["dropped"]), tuple(rows[0]["running"] or ()))


async def _check_reachable_and_migrated(conninfo: str, connect_timeout: float) -> None:
    try:
        conn = await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, connect_timeout=max(1, int(connect_timeout))
        )
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        raise connect_error(conninfo, exc) from exc
    async with conn:
        await require_migrated(conn, conninfo)


def _counts(row: Mapping[str, Any] | None) -> ApplyCounts:
    if row is None:
        return ApplyCounts()
    return ApplyCounts(int(row["completed"]), int(row["failed"]), int(row["skipped"]))


def _batch_row(row: Mapping[str, Any]) -> BatchRow:
    values = {name: row[name] for name in _BATCH_FIELDS if name in row}
    if values.get("user_id") is not None:
        values["user_id"] = str(values["user_id"])
    return BatchRow(**values)


def _parse_change(payload: str) -> Change | None:
    try:
        data = json.loads(payload)
    except ValueError:
        log.warning("change feed: ignored a message that is not JSON")
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("batch", "assets"):
        return None
    return Change(data["kind"], data.get("batch_id"), data.get("status"), data)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    """Nested SDK models (pydantic) become their JSON form, not their repr."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(value)


def _job_batch(row: Mapping[str, Any]) -> JobBatch:
    return JobBatch(
        **{**row, "job_id": str(row["job_id"]), "asset_ids": tuple(row["asset_ids"] or ())}
    )


def _job_summary(row: Mapping[str, Any]) -> JobSummary:
    return JobSummary(**{**row, "id": str(row["id"])})
