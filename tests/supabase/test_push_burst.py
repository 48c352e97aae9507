"""Past Realtime's events per second, deliveries stop; the feed notices the burst and resyncs.

The gateway drops every delivery for a while once the project exceeds
``max_events_per_second`` (per delivery to each subscriber), as Supabase Realtime
does; nothing tells the client. The feed counts the events it did get. A statement
costs one event per batch whose assets it changed, so a burst is one statement
touching many batches.
"""

from __future__ import annotations

from batchmon.core.backoff import Backoff
from batchmon.store.supabase_feed import RESYNC_BURST, FeedOptions
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.supabase.helpers import insert_one_asset_per_batch, live_feed, wait_for_change
from tests.supabase_gateway import Gateway

WATCHFUL = FeedOptions(
    check_interval=0.05,
    stale_after=5.0,
    backoff=Backoff(initial=0.05, maximum=0.2),
    burst_events=40,
    burst_quiet=0.3,
)


async def test_a_burst_past_the_rate_limit_is_followed_by_one_resync(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    gateway.max_events_per_second = 50
    gateway.rate_limit_pause = 60.0
    store = await open_store(feed=WATCHFUL)
    await store.sign_in(users.alice.email, PASSWORD)
    feed = await live_feed(store)

    insert_one_asset_per_batch(database_url, 200, users.alice.id)
    resync = await wait_for_change(feed, lambda c: c.kind == "resync")

    assert resync.payload["reason"] == RESYNC_BURST
    assert gateway.counts["delivered"] == 50 and gateway.counts["dropped"] == 150
    assert [p.asset_count for p in await store.pending_batches()] == [1] * 200


async def test_a_few_changes_are_no_burst(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    store = await open_store(feed=WATCHFUL)
    await store.sign_in(users.alice.email, PASSWORD)
    feed = await live_feed(store)

    insert_one_asset_per_batch(database_url, 39, users.alice.id)
    change = await wait_for_change(feed, lambda c: True)
    await gateway.wait_until(lambda c: c["delivered"] >= 39)

    assert (change.kind, change.batch_id) == ("assets", "batch_001")
    assert not store.feed.burst_pending
