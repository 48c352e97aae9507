"""The change feed over Realtime: delivered, guarded, resynced, and self-healing."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from realtime.types import RealtimePostgresChangesListenEvent
from supabase import AsyncClient

from batchmon.core.backoff import Backoff
from batchmon.store.protocol import Change
from batchmon.store.supabase import SupabaseStore
from batchmon.store.supabase_feed import ChangeQueue, FeedOptions
from tests.fixtures.postgres import insert_assets, openai_batch
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.supabase.helpers import batch_status, is_live, live_feed, wait_for_change
from tests.supabase_gateway import Gateway


async def test_batch_and_asset_changes_are_delivered(
    alice_store: SupabaseStore, users: Users, database_url: str, gateway: Gateway
) -> None:
    feed = await live_feed(alice_store)
    ids = insert_assets(database_url, 2, user_id=users.alice.id)

    await alice_store.mark_submitted(openai_batch("batch_a"), ids)
    await alice_store.record_statuses([openai_batch("batch_a", "completed", total=2, completed=2)])

    await gateway.wait_until(lambda c: c["heartbeats"] >= 1)  # answered on topic "phoenix"
    assets = await wait_for_change(feed, lambda c: c.kind == "assets" and c.batch_id == "batch_a")
    done = await wait_for_change(feed, batch_status("batch_a", "completed"))
    # One row per batch stands for the statement that changed its assets.
    assert assets.payload["user_id"] == users.alice.id and assets.status is None
    assert done.payload["completed"] == 2


async def test_other_users_changes_never_reach_the_feed(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    feed = await live_feed(bob_store)
    alice_ids = insert_assets(database_url, 1, user_id=users.alice.id)
    bob_ids = insert_assets(database_url, 1, user_id=users.bob.id)

    await alice_store.mark_submitted(openai_batch("batch_alice"), alice_ids)
    await bob_store.mark_submitted(openai_batch("batch_bob"), bob_ids)

    # Changes arrive in commit order: Bob's first batch event is his own, Alice's never came.
    first = await wait_for_change(feed, lambda c: c.batch_id is not None)
    assert first.batch_id == "batch_bob"


async def test_asset_change_rows_are_each_users_own_and_written_by_no_api_role(
    alice_store: SupabaseStore,
    bob_store: SupabaseStore,
    users: Users,
    database_url: str,
    gateway: Gateway,
) -> None:
    await alice_store.mark_submitted(
        openai_batch("batch_alice"), insert_assets(database_url, 1, user_id=users.alice.id)
    )
    await bob_store.mark_submitted(
        openai_batch("batch_bob"), insert_assets(database_url, 1, user_id=users.bob.id)
    )
    alice = {"sub": users.alice.id, "role": "authenticated"}

    async with gateway.as_request(alice) as conn:
        cur = await conn.execute("select batch_id from public.batchmon_asset_changes")
        seen = await cur.fetchall()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with gateway.as_request(alice) as conn:
            await conn.execute(
                "update public.batchmon_asset_changes set changed_at = now()"
                " where batch_id = 'batch_alice'"
            )

    assert seen == [("batch_alice",)]


async def test_an_unreadable_event_does_not_stop_later_events(
    alice_store: SupabaseStore, users: Users, database_url: str, gateway: Gateway
) -> None:
    feed = await live_feed(alice_store)
    await gateway.wait_until(lambda c: c["joins"] >= 1)

    # Valid on the wire, but no record to read: converting it raises inside the callback.
    await gateway.send_raw_change(
        {
            "schema": "public",
            "table": "openai_batches",
            "type": "UPDATE",
            "commit_timestamp": "2026-01-01T00:00:00Z",
            "columns": [],
            "errors": None,
            "record": {"status": "completed"},
        }
    )
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await alice_store.mark_submitted(openai_batch("batch_after"), ids)

    await wait_for_change(feed, batch_status("batch_after", "in_progress"))
    assert alice_store.feed.dropped_payloads == 1


async def test_realtime_py_itself_stops_reading_after_a_raising_callback(
    gateway: Gateway, users: Users
) -> None:
    """Why the feed guards its callbacks: unguarded, one exception ends the reader."""
    client = await AsyncClient.create(gateway.url, gateway.anon_key)
    await client.auth.sign_in_with_password({"email": users.alice.email, "password": PASSWORD})

    def explode(payload: object) -> None:
        raise RuntimeError("callback bug")

    channel = client.channel("unguarded")
    channel.on_postgres_changes(
        event=RealtimePostgresChangesListenEvent.All,
        schema="public",
        table="openai_batches",
        callback=explode,
    )
    await channel.subscribe()
    reader = client.realtime._listen_task
    assert reader is not None and not reader.done()
    await gateway.send_raw_change(
        {
            "schema": "public",
            "table": "openai_batches",
            "type": "INSERT",
            "commit_timestamp": "2026-01-01T00:00:00Z",
            "columns": [],
            "errors": None,
            "record": {"id": "x"},
        }
    )
    with pytest.raises(RuntimeError, match="callback bug"):
        await asyncio.wait_for(asyncio.shield(reader), 5)
    await client.realtime.close()
    client.auth._refresh_token_timer.cancel()  # type: ignore[union-attr]


async def test_a_dropped_socket_reconnects_and_resyncs(
    alice_store: SupabaseStore, users: Users, database_url: str, gateway: Gateway
) -> None:
    feed = await live_feed(alice_store)
    await gateway.wait_until(lambda c: c["joins"] >= 1)

    await gateway.drop_realtime()

    await wait_for_change(feed, is_live)
    await gateway.wait_until(lambda c: c["joins"] >= 2)
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await alice_store.mark_submitted(openai_batch("batch_after_drop"), ids)
    await wait_for_change(feed, batch_status("batch_after_drop", "in_progress"))
    assert alice_store.feed.rebuilds == 1  # realtime-py reconnected by itself


async def test_the_watchdog_reconnects_after_realtime_py_gives_up(
    open_store: StoreFactory, users: Users, database_url: str, gateway: Gateway
) -> None:
    store = await open_store(
        feed=FeedOptions(
            check_interval=0.05, stale_after=0.2, backoff=Backoff(initial=0.05, maximum=0.1)
        ),
        realtime={"max_retries": 2, "initial_backoff": 0.01},
    )
    await store.sign_in(users.alice.email, PASSWORD)
    feed = await live_feed(store)
    attempts = gateway.counts["attempts"]

    gateway.refuse_realtime = True
    await gateway.drop_realtime()
    # realtime-py's 2 attempts, then at least 2 rebuild rounds by the watchdog.
    await gateway.wait_until(lambda c: c["attempts"] >= attempts + 6)
    missed = insert_assets(database_url, 1, user_id=users.alice.id)
    await store.mark_submitted(openai_batch("batch_while_away"), missed)
    gateway.refuse_realtime = False

    await wait_for_change(feed, is_live)
    # Nothing is replayed: the resync is the signal to refetch, and the refetch has it.
    assert [b.id for b in await store.list_batches()] == ["batch_while_away"]
    assert store.feed.rebuilds >= 2
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await store.mark_submitted(openai_batch("batch_back"), ids)
    await wait_for_change(feed, batch_status("batch_back", "in_progress"))


async def test_a_channel_ended_for_an_expired_token_comes_back_with_a_fresh_one(
    alice_store: SupabaseStore, users: Users, database_url: str, gateway: Gateway
) -> None:
    feed = await live_feed(alice_store)
    await gateway.wait_until(lambda c: c["joins"] >= 1)

    await gateway.expire_tokens()  # Realtime ends the channel: system error + phx_close

    await wait_for_change(feed, is_live)
    assert gateway.tokens.refreshes >= 1
    ids = insert_assets(database_url, 1, user_id=users.alice.id)
    await alice_store.mark_submitted(openai_batch("batch_fresh"), ids)
    await wait_for_change(feed, batch_status("batch_fresh", "in_progress"))


async def test_a_refreshed_token_is_handed_to_the_joined_channel(
    alice_store: SupabaseStore, gateway: Gateway
) -> None:
    _held_open = await live_feed(alice_store)
    await gateway.wait_until(lambda c: c["joins"] >= 1)

    await alice_store.client.auth.refresh_session()

    await gateway.wait_until(lambda c: c["token_swaps"] >= 1)
    assert alice_store.feed.healthy


async def test_asset_changes_are_coalesced_per_batch_until_taken() -> None:
    queue = ChangeQueue()
    for _ in range(3):
        queue.put(Change("assets", batch_id="batch_a"))
    queue.put(Change("assets", batch_id="batch_b"))
    queue.put(Change("batch", batch_id="batch_a", status="completed"))
    queue.put(Change("batch", batch_id="batch_a", status="completed"))

    taken = [await queue.get() for _ in range(4)]
    queue.put(Change("assets", batch_id="batch_a"))  # taken already: queued again

    assert [(c.kind, c.batch_id) if c else None for c in taken] == [
        ("assets", "batch_a"),
        ("assets", "batch_b"),
        ("batch", "batch_a"),
        ("batch", "batch_a"),
    ]
    assert await queue.get() == Change("assets", batch_id="batch_a")
    queue.end()
    assert await queue.get() is None


async def test_the_feed_ends_when_the_store_closes(alice_store: SupabaseStore) -> None:
    feed = await live_feed(alice_store)
    waiting = asyncio.ensure_future(anext(feed))

    await alice_store.close()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    assert not alice_store.client.realtime.is_connected
