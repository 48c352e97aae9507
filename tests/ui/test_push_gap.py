"""A batch that lives and finishes entirely while push is down is still announced.

The desktop's polling has stopped by itself (nothing pending), so the only way it can
learn about a batch submitted, finished and applied while its ``LISTEN`` connection was
gone is the ``resync`` after the reconnect. Real parts: the embedded PostgreSQL, the real
desktop over the in-process simulator; the feed is cut with ``pg_terminate_backend``
while new connections are refused, so every NOTIFY of that batch is certainly lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.core.backoff import Backoff
from batchmon.engine.apply import BatchApplier
from batchmon.engine.submit import submit_assets
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import CHANNEL, PostgresStore
from batchmon.store.protocol import Change
from batchmon.ui.desktop import Desktop
from batchmon.ui.notifications import Notice
from batchmon.ui.poller import PollState
from tests.fixtures.postgres import PgServer, insert_assets
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY
from tests.helpers.qt import until

TIMEOUT = 20.0


class WatchedStore(PostgresStore):
    """The real store; records each change once the desktop has finished handling it.

    The desktop asks for the next change only after handling the previous one, so a
    change is recorded at that moment (and waiters are woken).
    """

    handled: list[Change]
    _handled_changed: asyncio.Condition

    def changes(self) -> AsyncIterator[Change]:
        return self._watched()

    async def _watched(self) -> AsyncIterator[Change]:
        async for change in super().changes():
            yield change
            self.handled.append(change)
            async with self._handled_changed:
                self._handled_changed.notify_all()

    async def wait_handled(self, predicate: Callable[[list[Change]], bool]) -> None:
        async with self._handled_changed:
            await asyncio.wait_for(
                self._handled_changed.wait_for(lambda: predicate(self.handled)), TIMEOUT
            )


def resyncs(changes: list[Change]) -> int:
    return sum(change.kind == "resync" for change in changes)


async def open_watched(database_url: str) -> WatchedStore:
    store = await WatchedStore.open(database_url, backoff=Backoff(initial=0.05, maximum=0.1))
    assert isinstance(store, WatchedStore)
    store.handled = []
    store._handled_changed = asyncio.Condition()
    return store


async def cut_feed_and_refuse(admin: psycopg.AsyncConnection[Any], database: str) -> None:
    """Refuse new connections to ``database``, then end its ``LISTEN`` backend."""
    await admin.execute(
        sql.SQL("alter database {} allow_connections false").format(sql.Identifier(database))
    )
    cur = await admin.execute(
        "select pg_terminate_backend(pid, 5000) from pg_stat_activity"
        " where datname = %s and query ilike %s",
        (database, f"listen {CHANNEL}%"),
    )
    assert [row[0] for row in await cur.fetchall()] == [True], "one listener, now ended"


async def allow_connections(admin: psycopg.AsyncConnection[Any], database: str) -> None:
    await admin.execute(
        sql.SQL("alter database {} allow_connections true").format(sql.Identifier(database))
    )


async def test_a_batch_finished_while_push_was_down_is_announced_after_the_resync(
    qtbot: QtBot,
    simulator: Simulator,
    pg_server: PgServer,
    database_url: str,
    asgi_http_client: httpx2.AsyncClient,
) -> None:
    database = str(conninfo_to_dict(database_url)["dbname"])
    admin = await psycopg.AsyncConnection.connect(pg_server.admin_url, autocommit=True)
    store = await open_watched(database_url)
    # The worker's own pool, opened up front: it keeps working while connections are refused.
    worker_store = await PostgresStore.open(database_url, min_size=2, max_size=2)
    client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=asgi_http_client
    )
    desktop = Desktop(Settings(poll_interval=0.05), native_notifications=False)
    qtbot.addWidget(desktop.window)
    notified: list[Notice] = []
    desktop.notifications.notified.connect(notified.append)
    try:
        await desktop.attach(store, client)
        await until(desktop.poller.state_changed, lambda: desktop.poller.state == PollState.IDLE)
        await store.wait_handled(lambda changes: resyncs(changes) >= 1)

        asset_ids = insert_assets(database_url, 2, url_prefix="https://img.example.test/red-fox")
        await cut_feed_and_refuse(admin, database)
        try:
            # The batch's whole life falls in the gap: submitted, finished, applied.
            assets = await worker_store.assets_by_ids(asset_ids)
            batch_id = (await submit_assets(client, worker_store, assets)).batches[0].id
            simulator.advance(3600)
            result = await BatchSync(client, worker_store).check([batch_id])
            assert result.batches[batch_id].status == "completed"
            assert (
                await BatchApplier(client, worker_store).apply(result.batches[batch_id])
            ).changed
            assert batch_id not in desktop.batches
        finally:
            await allow_connections(admin, database)

        await store.wait_handled(lambda changes: resyncs(changes) >= 2)
        item = desktop.batches.get(batch_id)
        assert item is not None and item.status == "completed"
        assert desktop.poller.state == PollState.IDLE, "polling never saw the batch"
        assert [notice.key for notice in notified] == [(batch_id, "completed")]
    finally:
        await allow_connections(admin, database)
        await desktop.aclose()
        await client.aclose()
        await worker_store.close()
        await store.close()
        await admin.close()
