"""Realtime past its event budget drops changes silently; the desktop still learns of them.

The gateway stops delivering for a minute once the project exceeds
``max_events_per_second``, as Supabase Realtime does, without telling the client and
without any disconnect, so no reconnect resync comes. The desktop's own push code
(:class:`PushFollower`) asks the store each poll interval when the batches last changed
and lists them again when push missed a change; while work is pending it also lists
them every few intervals anyway (asset changes leave no trace in that timestamp).
Within budget, push alone shows a chunked apply chunk by chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from batchmon.store import Change, ResultRow, Store
from batchmon.store.postgres import PostgresStore
from batchmon.store.supabase_feed import RESYNC_JOINED, RESYNC_POSTGRES_READY
from batchmon.ui.batch_list import BatchList
from batchmon.ui.push_follower import RESYNC_GAP, RESYNC_PERIODIC, PushFollower
from tests.fixtures.postgres import execute, insert_assets, openai_batch
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.supabase.helpers import insert_one_asset_per_batch
from tests.supabase_gateway import Gateway

WITHIN = 15.0


class NoNotices:
    """Notices are not what these tests are about."""

    def observe(self, batch_id: str, status: str, batch: Any | None = None) -> None:
        return None

    def handle_change(self, change: Change, batch: Any | None = None) -> None:
        return None


class NoPoller:
    def resume(self) -> None:
        """No poll pass here: what the desktop learns comes from the store."""


class PushStates:
    def __init__(self) -> None:
        self.states: list[str] = []

    def set_push(self, state: Any, detail: str = "", retry_in: float | None = None) -> None:
        self.states.append(str(state))

    def showMessage(self, text: str, timeout: int = 0) -> None:
        """The status bar's message line is not checked here."""


class DesktopSide:
    """The desktop's push code over ``store``, checking for gaps every ``interval`` s."""

    def __init__(self, store: Store, *, interval: float, pending: bool) -> None:
        self.batches = BatchList()
        self.status = PushStates()
        self.follower = PushFollower(store, self.batches, NoNotices(), NoPoller(), self.status)
        self.interval = interval
        self.pending = pending
        self.resyncs: list[str] = []
        self.handled: list[str | None] = []  # batch ids of the other changes, in order
        self.changed = asyncio.Event()
        self.follower.on_handled(self._handled)

    def _handled(self, change: Change, announced: frozenset[str]) -> None:
        if change.kind == "resync":
            self.resyncs.append(str(change.payload.get("reason")))
        else:
            self.handled.append(change.batch_id)
        self.changed.set()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async def watch() -> None:
            while not predicate():
                await self.changed.wait()
                self.changed.clear()

        await asyncio.wait_for(watch(), WITHIN)

    def shows(self, batch_id: str, status: str) -> Callable[[], bool]:
        return lambda: self.status_of(batch_id) == status

    def status_of(self, batch_id: str) -> str | None:
        item = self.batches.get(batch_id)
        return item.status if item is not None else None


@pytest.fixture
async def started() -> AsyncIterator[Callable[[DesktopSide], None]]:
    tasks: list[asyncio.Task[None]] = []

    def start(side: DesktopSide) -> None:
        tasks.append(asyncio.create_task(side.follower.follow()))
        tasks.append(
            asyncio.create_task(
                side.follower.watch_for_gaps(lambda: side.interval, lambda: side.pending)
            )
        )

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _live_side(
    open_store: StoreFactory,
    users: Users,
    started: Callable[[DesktopSide], None],
    *,
    interval: float,
    pending: bool,
) -> DesktopSide:
    store = await open_store()
    await store.sign_in(users.alice.email, PASSWORD)
    side = DesktopSide(store, interval=interval, pending=pending)
    started(side)
    await side.wait_for(lambda: RESYNC_POSTGRES_READY in side.resyncs)
    return side


SideFactory = Callable[..., Awaitable[DesktopSide]]


@pytest.fixture
def past_the_budget(
    open_store: StoreFactory,
    users: Users,
    database_url: str,
    gateway: Gateway,
    started: Callable[[DesktopSide], None],
) -> SideFactory:
    """A live desktop side once ``batch_a``'s 10 assets reached it; then ten events (one
    asset in each of ten other batches) against a budget of five, and nothing is
    delivered for a minute."""

    async def make(*, interval: float, pending: bool) -> DesktopSide:
        side = await _live_side(open_store, users, started, interval=interval, pending=pending)
        insert_assets(database_url, 10, user_id=users.alice.id, batch_id="batch_a")
        await side.wait_for(lambda: "batch_a" in side.handled)
        gateway.max_events_per_second = 5
        gateway.rate_limit_pause = 60.0
        insert_one_asset_per_batch(database_url, 10, users.alice.id, prefix="batch_noise_")
        await gateway.wait_until(lambda c: c["dropped"] >= 5)
        return side

    return make


async def _worker_records(database_url: str, side: DesktopSide, *batches: dict[str, Any]) -> None:
    """A worker records each batch in turn, once the desktop shows the one before."""
    worker = await PostgresStore.open(database_url)
    try:
        for batch in batches:
            await worker.record_statuses([batch])
            await side.wait_for(side.shows(batch["id"], batch["status"]))
    finally:
        await worker.close()


async def test_an_idle_desktop_learns_of_a_dropped_change_from_its_gap_check(
    past_the_budget: SideFactory, database_url: str, gateway: Gateway
) -> None:
    side = await past_the_budget(interval=0.2, pending=False)
    dropped = gateway.counts["dropped"]
    await _worker_records(
        database_url, side, openai_batch("batch_a", "completed", total=10, completed=10)
    )

    assert gateway.counts["dropped"] > dropped  # the completion itself was dropped
    assert side.resyncs[-1] == RESYNC_GAP
    assert side.resyncs.count(RESYNC_JOINED) == 1  # no reconnect brought it
    assert side.status.states[-1] == "connected"  # a gap check does not touch the push light


async def test_while_work_is_pending_asset_changes_are_listed_again_every_few_intervals(
    past_the_budget: SideFactory, database_url: str
) -> None:
    side = await past_the_budget(interval=0.02, pending=True)
    await _worker_records(database_url, side, openai_batch("batch_a", "in_progress", total=10))
    # Half the assets done: no batch row changes, so only a full listing can show it.
    execute(
        database_url,
        "update public.assets set auto_tag_status = 'completed' where id in"
        " (select id from public.assets where openai_batch_id = 'batch_a' order by id limit 5)",
    )

    def halfway() -> bool:
        item = side.batches.get("batch_a")
        return item is not None and item.pending_assets == 5

    await side.wait_for(halfway)
    assert side.resyncs[-1] == RESYNC_PERIODIC


async def test_changes_push_delivers_cause_no_extra_listing(
    open_store: StoreFactory,
    users: Users,
    database_url: str,
    gateway: Gateway,
    started: Callable[[DesktopSide], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    side = await _live_side(open_store, users, started, interval=1.0, pending=False)
    store = side.follower.store
    probes = 0
    probe = store.last_batch_change

    async def counted() -> datetime | None:
        nonlocal probes
        probes += 1
        side.changed.set()
        return await probe()

    monkeypatch.setattr(store, "last_batch_change", counted)
    insert_assets(database_url, 2, user_id=users.alice.id, batch_id="batch_a")
    statuses = ("in_progress", "finalizing", "completed")
    await _worker_records(
        database_url, side, *(openai_batch("batch_a", s, total=2) for s in statuses)
    )
    seen = probes
    await side.wait_for(lambda: probes >= seen + 2)

    assert gateway.counts["dropped"] == 0
    assert RESYNC_GAP not in side.resyncs and RESYNC_PERIODIC not in side.resyncs


async def test_a_chunked_apply_is_seen_chunk_by_chunk(
    open_store: StoreFactory,
    users: Users,
    database_url: str,
    gateway: Gateway,
    started: Callable[[DesktopSide], None],
) -> None:
    """Each applied chunk is one statement, hence one event: the pending count falls per
    chunk while the apply runs, with no listing of the batches in between."""
    chunk = 10
    side = await _live_side(open_store, users, started, interval=60.0, pending=False)
    applier = await open_store(chunk_rows=chunk)
    await applier.sign_in(users.alice.email, PASSWORD)
    ids = insert_assets(database_url, 3 * chunk, user_id=users.alice.id)
    await applier.mark_submitted(openai_batch("batch_a"), ids)

    def pending() -> int | None:
        item = side.batches.get("batch_a")
        return None if item is None else item.pending_assets

    def pending_is(count: int) -> Callable[[], bool]:
        return lambda: pending() == count

    await side.wait_for(pending_is(3 * chunk))
    seen: list[int | None] = []

    async def results() -> AsyncIterator[ResultRow]:
        for n, asset_id in enumerate(ids):
            if n and n % chunk == 0:  # the store asks for this row once the chunk before landed
                await side.wait_for(pending_is(3 * chunk - n))
                seen.append(pending())
            yield ResultRow(asset_id, ok=True, tags=["cat"])

    await applier.apply_results("batch_a", results())
    await side.wait_for(pending_is(0))

    assert seen == [20, 10]
    assert gateway.counts["dropped"] == 0
    assert RESYNC_GAP not in side.resyncs and RESYNC_PERIODIC not in side.resyncs
