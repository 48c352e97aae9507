"""Awaiting the change feed in tests: bounded waits on the real iterator, never sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from batchmon.store.protocol import Change
from batchmon.store.supabase import SupabaseStore
from batchmon.store.supabase_feed import RESYNC_POSTGRES_READY
from tests.fixtures.postgres import execute


async def wait_for_change(
    feed: AsyncIterator[Change], match: Callable[[Change], bool], *, within: float = 10.0
) -> Change:
    """The first change that satisfies ``match`` (others are skipped)."""

    async def scan() -> Change:
        while True:
            change = await anext(feed)
            if match(change):
                return change

    return await asyncio.wait_for(scan(), within)


async def live_feed(store: SupabaseStore) -> AsyncIterator[Change]:
    """``store``'s change feed, once the server's change stream is running."""
    feed = store.changes()
    await wait_for_change(feed, is_live)
    return feed


def is_resync(change: Change) -> bool:
    return change.kind == "resync"


def is_live(change: Change) -> bool:
    """The last resync of a (re)subscribe: the server's change stream is running."""
    return change.kind == "resync" and change.payload.get("reason") == RESYNC_POSTGRES_READY


def batch_status(batch_id: str, status: str) -> Callable[[Change], bool]:
    return lambda c: c.kind == "batch" and c.batch_id == batch_id and c.status == status


def insert_one_asset_per_batch(
    database_url: str, batches: int, user_id: str, *, prefix: str = "batch_"
) -> None:
    """One statement adding a pending asset to each of ``batches`` batches.

    A statement costs Realtime one event per batch whose assets it changed, so this is
    how a test makes ``batches`` events at once: ``batch_001``, ``batch_002``, ...
    """
    execute(
        database_url,
        "insert into public.assets (id, user_id, image_url, auto_tag_status, openai_batch_id)"
        " select gen_random_uuid(), %s, 'https://img.example.test/' || g, 'pending',"
        " %s || lpad(g::text, 3, '0') from generate_series(1, %s) g",
        (user_id, prefix, batches),
    )
