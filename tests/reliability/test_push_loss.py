"""Push loss: the change feed dies during a burst of completions, and nothing is missed.

A worker (its own connections) records and applies 30 finished batches one after
another. Partway through, the desktop's feed is cut: its ``LISTEN`` connection is killed
with ``pg_terminate_backend`` (direct Postgres), or every Realtime socket is closed by
the gateway (Supabase). NOTIFY and Realtime never replay what was sent while nobody
listened, so the desktop relies on the ``resync`` that follows every reconnect.

The desktop side here is the desktop's own :class:`PushFollower`: on a change it fetches
the batch row, merges it into a :class:`BatchList` and hands the change to the
:class:`NotificationCenter`; on ``resync`` it refetches every row and observes each.
It must end with every batch completed in its list, each completion notified exactly
once (counted from ``NotificationCenter.notified`` and from the notifier).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from batchmon.core.backoff import Backoff
from batchmon.engine.apply import BatchApplier
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store import Change, Store
from batchmon.store.postgres import CHANNEL, PostgresStore
from batchmon.store.supabase_feed import RESYNC_POSTGRES_READY, FeedOptions
from batchmon.ui.batch_list import BatchList
from batchmon.ui.notifications import Notice, NotificationCenter
from batchmon.ui.push_follower import PushFollower
from tests.fixtures.postgres import PgServer, insert_assets, openai_batch
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.reliability.helpers import ledger, submit_batches
from tests.supabase_gateway import Gateway

BATCHES = 30
PER_BATCH = 2
CUT_AT = 10  # the feed is cut before the worker records this batch
BACK_AT = 20  # ... and may come back before this one
WITHIN = 15.0
SENTINEL = "batch_sentinel"

Key = tuple[str, str]
Hook = Callable[[], Awaitable[None]]


class RecordingNotifier:
    """A notifier that keeps what it was asked to show."""

    name = "recording"

    def __init__(self) -> None:
        self.shown: list[Notice] = []

    def set_handlers(
        self, open_batch: Callable[[str], None], retry_batch: Callable[[str], None]
    ) -> None:
        """Clicks are not part of these tests."""

    def show(self, notice: Notice) -> None:
        self.shown.append(notice)


class NoPoller:
    """No poll pass here: push alone must get every completion to the desktop."""

    def __init__(self) -> None:
        self.resumed = 0

    def resume(self) -> None:
        self.resumed += 1


class PushStates:
    """The push indicator's states, in order (what the status bar would show)."""

    def __init__(self) -> None:
        self.states: list[str] = []

    def set_push(self, state: Any, detail: str = "", retry_in: float | None = None) -> None:
        self.states.append(str(state))


class DesktopSide:
    """The desktop's own push code (:class:`PushFollower`), with a record of what it did."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.notifier = RecordingNotifier()
        self.center = NotificationCenter(self.notifier)
        self.batches = BatchList()
        self.poller = NoPoller()
        self.status = PushStates()
        self.follower = PushFollower(store, self.batches, self.center, self.poller, self.status)
        self.notified: Counter[Key] = Counter()
        self.from_resync: set[str] = set()
        self.resyncs: list[Change] = []
        self.seen: set[str] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.center.notified.connect(self._count)
        self.follower.on_handled(self._handled)

    def _count(self, notice: Notice) -> None:
        self.notified[notice.key] += 1

    def _handled(self, change: Change, announced: frozenset[str]) -> None:
        if change.kind == "resync":
            self.from_resync |= announced
            self.resyncs.append(change)
        elif change.batch_id:
            self.seen.add(change.batch_id)
        self._changed.set()

    async def start(self) -> None:
        """Load the rows as a silent baseline (as ``Desktop.attach`` does), then follow.

        In the desktop the first poll pass ends the baseline; with no poller here, it
        ends once the rows are loaded, so only push can announce what follows.
        """
        rows = await self.store.list_batches()
        self.batches.load_rows(rows)
        self.center.seed(((row.id, row.status) for row in rows), finish=False)
        self.center.finish_baseline()
        self._task = asyncio.create_task(self.follower.follow())
        self._task.add_done_callback(lambda _: self._changed.set())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_until(self, predicate: Callable[[], bool], within: float = WITHIN) -> None:
        """Wait (bounded) until ``predicate`` holds; a feed that ended or failed fails here."""
        task = self._task
        assert task is not None

        async def settled() -> None:
            while not (predicate() or task.done()):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(settled(), within)
        if not predicate():
            task.result()  # the follower's own exception, if it raised
            raise AssertionError("the change feed ended before the condition held")


async def complete_one_by_one(
    client: BatchClient, store: Store, batch_ids: list[str], hooks: Mapping[int, Hook]
) -> None:
    """The worker's work, one batch at a time: record the finished status, then apply.

    ``hooks[n]`` runs just before batch ``n``: that is where the feed is cut.
    """
    sync, applier = BatchSync(client, store), BatchApplier(client, store)
    for n, batch_id in enumerate(batch_ids):
        if n in hooks:
            await hooks[n]()
        result = await sync.check([batch_id])
        batch = result.batches[batch_id]
        assert batch.status == "completed", batch.status
        report = await applier.apply(batch)
        assert report.changed, f"{batch_id} applied nothing"


async def settle(desktop: DesktopSide, store: Store, database_url: str, user: str | None) -> None:
    """Wait until the desktop has read every change committed so far.

    Call it once the feed is back. Changes arrive in commit order, so once a sentinel
    batch committed now has reached the desktop, everything committed before it has too
    (or was in the resync's refetch).
    """
    assets = insert_assets(database_url, 1, user_id=user, url_prefix="https://img.example.test/x")
    await store.mark_submitted(openai_batch(SENTINEL), assets)
    await desktop.wait_until(lambda: SENTINEL in desktop.seen)


def assert_each_completion_notified_once(
    desktop: DesktopSide, batch_ids: list[str], database_url: str, asset_ids: list[str]
) -> None:
    expected = {(batch_id, "completed"): 1 for batch_id in batch_ids}
    assert dict(desktop.notified) == expected
    assert dict(Counter(notice.key for notice in desktop.notifier.shown)) == expected
    listed = {b: desktop.batches.get(b) for b in batch_ids}
    assert {b: item.status if item else None for b, item in listed.items()} == dict.fromkeys(
        batch_ids, "completed"
    )
    assert {b: item.pending_assets if item else None for b, item in listed.items()} == (
        dict.fromkeys(batch_ids, 0)
    )
    books = ledger(database_url, asset_ids)
    assert books.lost == []
    assert books.applied_twice == []


# -- direct Postgres: kill the LISTEN connection -------------------------------------------


async def listener_pid(admin: psycopg.AsyncConnection[Any], database: str) -> int:
    cur = await admin.execute(
        "select pid from pg_stat_activity where datname = %s and query ilike %s",
        (database, f"listen {CHANNEL}%"),
    )
    rows = await cur.fetchall()
    assert len(rows) == 1, f"expected one listener, found {rows}"
    return int(rows[0][0])


async def kill_listener(admin: psycopg.AsyncConnection[Any], database: str) -> int:
    """Terminate the desktop's LISTEN backend and wait until it is gone."""
    pid = await listener_pid(admin, database)
    cur = await admin.execute("select pg_terminate_backend(%s, 5000)", (pid,))
    row = await cur.fetchone()
    assert row is not None and row[0] is True, f"listener {pid} did not end"
    return pid


async def allow_connections(
    admin: psycopg.AsyncConnection[Any], database: str, allowed: bool
) -> None:
    await admin.execute(
        sql.SQL("alter database {} allow_connections {}").format(
            sql.Identifier(database), sql.Literal(allowed)
        )
    )


@pytest.fixture
async def admin(pg_server: PgServer) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await psycopg.AsyncConnection.connect(pg_server.admin_url, autocommit=True)
    async with conn:
        yield conn


@pytest.fixture
async def worker_store(database_url: str) -> AsyncIterator[PostgresStore]:
    """The worker's own pool, every connection opened up front (it outlives a refusal)."""
    opened = await PostgresStore.open(database_url, min_size=4, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize("kept_away", [False, True], ids=["reconnects-at-once", "kept-away"])
async def test_killing_the_listen_connection_mid_burst_loses_and_repeats_no_notification(
    kept_away: bool,
    qapp: Any,
    simulator: Simulator,
    client: BatchClient,
    store: PostgresStore,
    worker_store: PostgresStore,
    database_url: str,
    admin: psycopg.AsyncConnection[Any],
) -> None:
    """Reconnects-at-once: killed twice, the feed comes straight back while the burst
    goes on. Kept-away: killed, and new connections refused while ten batches finish
    and are applied, so their every NOTIFY is certainly lost."""
    database = str(conninfo_to_dict(database_url)["dbname"])
    batch_ids, asset_ids = await submit_batches(
        client, worker_store, database_url, BATCHES, PER_BATCH
    )
    simulator.advance(3600)
    desktop = DesktopSide(store)
    await desktop.start()
    await desktop.wait_until(lambda: len(desktop.resyncs) >= 1)
    killed: list[int] = []

    async def cut() -> None:
        if kept_away:
            await allow_connections(admin, database, False)
        killed.append(await kill_listener(admin, database))

    async def come_back() -> None:
        await allow_connections(admin, database, True)

    async def cut_again() -> None:
        await desktop.wait_until(lambda: len(desktop.resyncs) >= 2)
        killed.append(await kill_listener(admin, database))

    hooks = {CUT_AT: cut, BACK_AT: come_back} if kept_away else {CUT_AT: cut, BACK_AT: cut_again}
    try:
        worker = complete_one_by_one(client, worker_store, batch_ids, hooks)
        await asyncio.wait_for(worker, WITHIN)
        await desktop.wait_until(lambda: len(desktop.resyncs) >= 1 + len(killed))
        await settle(desktop, worker_store, database_url, None)
        listening = await listener_pid(admin, database)
    finally:
        await allow_connections(admin, database, True)
        await desktop.stop()

    assert_each_completion_notified_once(desktop, batch_ids, database_url, asset_ids)
    assert len(desktop.resyncs) == 1 + len(killed)
    assert listening not in killed
    if kept_away:
        # Their whole lifecycle fell in the gap: only the resync could have told.
        assert set(batch_ids[CUT_AT:BACK_AT]) <= desktop.from_resync


# -- Supabase: close the Realtime socket -----------------------------------------------------

QUICK_WATCHDOG = FeedOptions(
    check_interval=0.05, stale_after=0.2, backoff=Backoff(initial=0.05, maximum=0.1)
)


def is_live(change: Change) -> bool:
    """A resync saying the server's change stream runs (the last of a (re)subscribe)."""
    return change.payload.get("reason") == RESYNC_POSTGRES_READY


async def test_closing_the_realtime_socket_mid_burst_loses_and_repeats_no_notification(
    qapp: Any,
    simulator: Simulator,
    client: BatchClient,
    worker_store: PostgresStore,
    database_url: str,
    gateway: Gateway,
    users: Users,
    open_store: StoreFactory,
) -> None:
    """Every socket closed and new ones refused while ten batches finish and are
    applied; realtime-py gives up, the watchdog brings the feed back, and the resync
    covers the gap."""
    alice = users.alice.id
    batch_ids, asset_ids = await submit_batches(
        client, worker_store, database_url, BATCHES, PER_BATCH, user_id=alice
    )
    simulator.advance(3600)
    alice_store = await open_store(
        service="batchmon-push-loss",
        feed=QUICK_WATCHDOG,
        realtime={"max_retries": 2, "initial_backoff": 0.01},
    )
    await alice_store.sign_in(users.alice.email, PASSWORD)
    desktop = DesktopSide(alice_store)
    await desktop.start()
    await desktop.wait_until(lambda: any(is_live(c) for c in desktop.resyncs))

    async def cut() -> None:
        gateway.refuse_realtime = True
        await gateway.drop_realtime()

    async def come_back() -> None:
        gateway.refuse_realtime = False

    try:
        worker = complete_one_by_one(
            client, worker_store, batch_ids, {CUT_AT: cut, BACK_AT: come_back}
        )
        await asyncio.wait_for(worker, WITHIN)
        await desktop.wait_until(lambda: sum(map(is_live, desktop.resyncs)) >= 2)
        await settle(desktop, worker_store, database_url, alice)
    finally:
        gateway.refuse_realtime = False
        await desktop.stop()

    assert_each_completion_notified_once(desktop, batch_ids, database_url, asset_ids)
    assert alice_store.feed.rebuilds >= 1  # realtime-py gave up; the watchdog reconnected
    assert set(batch_ids[CUT_AT:BACK_AT]) <= desktop.from_resync
