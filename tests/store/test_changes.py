"""The change feed: NOTIFY from triggers, and a resync after every reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta
from typing import cast

import pytest

from batchmon.store import Change, ResultRow
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all, insert_assets, openai_batch

WAIT = 20.0


@pytest.fixture
async def feed(store: PostgresStore) -> AsyncIterator[AsyncIterator[Change]]:
    """The store's change feed past its opening resync, closed after the test."""
    changes = cast(AsyncGenerator[Change, None], store.changes())
    try:
        assert await _next(changes) == Change("resync")
        yield changes
    finally:
        await changes.aclose()


async def _next(feed: AsyncIterator[Change]) -> Change:
    return await asyncio.wait_for(anext(feed), WAIT)


async def test_feed_starts_with_resync_then_carries_batch_and_asset_changes(
    store: PostgresStore, feed: AsyncIterator[Change], database_url: str
) -> None:
    ids = insert_assets(database_url, 3, batch_id="b1")
    assets = await _next(feed)
    assert (assets.kind, assets.batch_id, assets.status) == ("assets", "b1", None)

    await store.record_statuses([openai_batch("b1", "in_progress", total=3)])
    batch = await _next(feed)
    assert (batch.kind, batch.batch_id, batch.status) == ("batch", "b1", "in_progress")
    assert batch.payload["total"] == 3

    # Bookkeeping (a claim, a poll that saw nothing new) is not announced: the next
    # message is the completion that follows it.
    await store.claim_due(
        "w1", min_age=timedelta(0), interval=timedelta(0), lease=timedelta(minutes=1)
    )
    await store.record_statuses([openai_batch("b1", "in_progress", total=3)])
    await store.record_statuses([openai_batch("b1", "completed", total=3, completed=3)])
    done = await _next(feed)
    assert (done.kind, done.status, done.payload["completed"]) == ("batch", "completed", 3)

    # One message per batch for a whole chunk of asset updates.
    await store.apply_results("b1", [ResultRow(a, True, tags=["t"]) for a in ids])
    applied = await _next(feed)
    assert (applied.kind, applied.batch_id, applied.status) == ("assets", "b1", "completed")
    await store.finish_apply("b1", unreturned_reason="no result")
    finished = await _next(feed)
    assert (finished.kind, finished.payload["applied"]) == ("batch", True)


async def test_feed_resyncs_after_its_connection_is_killed(
    store: PostgresStore, feed: AsyncIterator[Change], database_url: str
) -> None:
    listener = fetch_all(
        database_url,
        "select pid from pg_stat_activity where datname = current_database() "
        "and query = 'listen batchmon_changes'",
    )
    assert len(listener) == 1
    execute(database_url, "select pg_terminate_backend(%s)", listener[0])

    assert await _next(feed) == Change("resync")
    await store.record_statuses([openai_batch("b2", "validating")])
    change = await _next(feed)
    assert (change.kind, change.batch_id, change.status) == ("batch", "b2", "validating")


async def test_closing_the_store_ends_the_feed(database_url: str) -> None:
    opened = await PostgresStore.open(database_url)
    feed = opened.changes()
    assert await _next(feed) == Change("resync")
    pending = asyncio.ensure_future(anext(feed))
    await opened.close()
    try:
        await asyncio.wait_for(pending, WAIT)
    except StopAsyncIteration:
        pass
    else:
        raise AssertionError("the feed yielded after the store was closed")
