"""Push that cannot work is said once and not retried in a loop; a token refresh is no news.

A table outside the ``supabase_realtime`` publication: Realtime answers the join ok,
then a ``system`` error, and nothing streams. That no rejoin follows is checked by
awaiting the feed itself for longer than realtime-py's first two rejoin delays (1 s,
then 2 s) and the watchdog's rebuild delay (0.2 s here): nothing may arrive.
"""

from __future__ import annotations

import pytest

from batchmon.core.backoff import Backoff
from batchmon.store.protocol import Change
from batchmon.store.supabase_feed import RESYNC_PUSH_UNAVAILABLE, FeedOptions
from tests.fixtures.postgres import execute, insert_assets, openai_batch
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.supabase.helpers import is_live, live_feed, wait_for_change
from tests.supabase_gateway import Gateway

UNPUBLISH = "alter publication supabase_realtime drop table public.batchmon_asset_changes"
MESSAGE = (
    "push unavailable: table batchmon_asset_changes is not in supabase_realtime"
    " (run batchmon db migrate)"
)


def feed_options(unavailable_retry: float = 600.0) -> FeedOptions:
    return FeedOptions(
        check_interval=0.02,
        stale_after=0.2,
        backoff=Backoff(initial=0.02, maximum=0.1),
        unavailable_retry=unavailable_retry,
    )


def is_unavailable(change: Change) -> bool:
    return change.kind == "resync" and change.payload.get("reason") == RESYNC_PUSH_UNAVAILABLE


async def test_an_unpublished_table_is_said_once_and_the_channel_is_not_rejoined(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    execute(database_url, UNPUBLISH)
    store = await open_store(feed=feed_options())
    await store.sign_in(users.alice.email, PASSWORD)
    feed = store.changes()

    said = await wait_for_change(feed, is_unavailable)
    with pytest.raises(TimeoutError):
        await wait_for_change(feed, lambda c: True, within=3.5)

    assert said.payload["push_unavailable"] == MESSAGE
    assert store.feed.unavailable == MESSAGE
    assert gateway.counts["joins"] == 1 and gateway.counts["refused_subscriptions"] == 1
    assert store.feed.rebuilds == 1
    assert await store.list_batches() == []  # polling reads carry on


async def test_push_comes_back_once_the_table_is_published_again(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    execute(database_url, UNPUBLISH)
    store = await open_store(feed=feed_options(unavailable_retry=0.5))
    await store.sign_in(users.alice.email, PASSWORD)
    feed = store.changes()
    await wait_for_change(feed, is_unavailable)

    execute(
        database_url,
        "alter publication supabase_realtime add table public.batchmon_asset_changes",
    )
    await wait_for_change(feed, is_live)
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await store.mark_submitted(openai_batch("batch_a"), ids)

    await wait_for_change(feed, lambda c: c.kind == "assets" and c.batch_id == "batch_a")
    assert store.feed.unavailable is None


async def test_a_token_refresh_resubscribes_on_the_server_without_a_resync(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    store = await open_store(feed=feed_options())
    await store.sign_in(users.alice.email, PASSWORD)
    feed = await live_feed(store)
    subscribed = gateway.counts["subscribed"]

    await store.client.auth.refresh_session()  # supabase-py pushes the new access_token
    await gateway.wait_until(lambda c: c["subscribed"] > subscribed and c["token_swaps"] >= 1)
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await store.mark_submitted(openai_batch("batch_a"), ids)

    first = await wait_for_change(feed, lambda c: True)
    # The new batch's row (an asset outside any batch is no event), no resync before it.
    assert (first.kind, first.batch_id) == ("batch", "batch_a")
