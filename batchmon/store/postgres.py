"""PostgresStore: the Store over a direct PostgreSQL connection (psycopg 3).

:class:`~batchmon.store.api.Store` calls the SQL functions from ``sql/``; here each call
is ``select * from public.fn(p_x => %(p_x)s, ...)`` on a pooled connection, so RLS and
idempotency are the database's, not this module's. Bulk apply (an override) streams
results in chunks through ``COPY`` into a session-local staging table and applies each
chunk with one ``UPDATE ... FROM`` (``apply_staged_results``), one transaction per
chunk: a crash mid-apply keeps what was committed and a rerun applies only what is
still pending. The change feed is a dedicated ``LISTEN`` connection that reconnects
with backoff and says ``resync`` after every (re)connect, because NOTIFY messages sent
while it was away are gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from functools import cache
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from batchmon.core.backoff import Backoff
from batchmon.store.api import Args, Json, Store
from batchmon.store.copy_text import copy_lines
from batchmon.store.errors import connect_error, redact, require_migrated, translate
from batchmon.store.paging import chunks
from batchmon.store.protocol import ApplyCounts, Change, ResultRow, StoreError
from batchmon.store.rows import row_to

log = logging.getLogger(__name__)

CHANNEL = "batchmon_changes"
APPLY_CHUNK = 5_000
#: How long a readable LISTEN socket may take to deliver its NOTIFY, in seconds.
READ_GRACE = 1.0
_COPY_STAGE = "copy pg_temp.batchmon_apply_rows (asset_id, ok, tags, error) from stdin"


class PostgresStore(Store):
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

    async def _getconn(self) -> psycopg.AsyncConnection[Any]:
        """A connection from the pool, or a StoreError saying why there is none."""
        if self._closed:
            raise StoreError("the store is closed")
        try:
            return await self._pool.getconn()
        except PoolTimeout as exc:
            raise StoreError(
                f"no database connection available from {redact(self._conninfo)}: {exc}"
            ) from exc
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def _cursor(self, *, batch_id: str | None = None) -> AsyncIterator[Any]:
        conn = await self._getconn()
        try:
            async with conn.cursor(row_factory=dict_row) as cur:
                yield cur
        except psycopg.Error as exc:
            raise translate(exc, batch_id=batch_id) from exc
        finally:
            await self._pool.putconn(conn)

    async def _rows(
        self, fn: str, args: Args, *, batch_id: str | None = None
    ) -> list[Mapping[str, Any]]:
        async with self._cursor(batch_id=batch_id) as cur:
            await cur.execute(_call("select * from", fn, tuple(args)), _params(args))
            return cast(list[Mapping[str, Any]], await cur.fetchall())

    async def _value(self, fn: str, args: Args, *, batch_id: str | None = None) -> Any:
        async with self._cursor(batch_id=batch_id) as cur:
            await cur.execute(_call("select", fn, tuple(args)), _params(args))
            row = await cur.fetchone()
        return next(iter(row.values())) if row else None

    async def _column(self, fn: str, args: Args, *, batch_id: str | None = None) -> list[Any]:
        return [next(iter(r.values())) for r in await self._rows(fn, args, batch_id=batch_id)]

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
        conn = await self._getconn()
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
            return row_to(ApplyCounts, counts) if counts else ApplyCounts()
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


async def _check_reachable_and_migrated(conninfo: str, connect_timeout: float) -> None:
    try:
        conn = await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, connect_timeout=max(1, int(connect_timeout))
        )
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        raise connect_error(conninfo, exc) from exc
    async with conn:
        await require_migrated(conn, conninfo)


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


@cache
def _call(verb: str, fn: str, names: tuple[str, ...]) -> bytes:
    """``select * from public.fn(p_a => %(p_a)s, ...)``: a call by parameter names."""
    named = ", ".join(f"{name} => %({name})s" for name in names)
    return f"{verb} public.{fn}({named})".encode()


def _params(args: Args) -> dict[str, Any] | None:
    if not args:
        return None
    return {k: Jsonb(v.value, dumps=_dumps) if isinstance(v, Json) else v for k, v in args.items()}
