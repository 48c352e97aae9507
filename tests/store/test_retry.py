"""begin_retry: one atomic re-point and link, and never a second retry of a batch."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from batchmon.store import ApplyCounts, ResultRow, RetryLink, RetryRefused, StoreError
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import insert_assets, openai_batch

USER = str(uuid.uuid4())


async def _expired_batch(store: PostgresStore, database_url: str) -> list[str]:
    """batch_1 expired: asset 0 completed, 1 failed, 2 and 3 got nothing (still pending)."""
    ids = insert_assets(database_url, 4, user_id=USER, batch_id="batch_1")
    await store.record_statuses([openai_batch("batch_1", "expired", total=4, completed=1)])
    counts = await store.apply_results(
        "batch_1", [ResultRow(ids[0], True, tags=["a"]), ResultRow(ids[1], False, error="e")]
    )
    assert counts == ApplyCounts(completed=1, failed=1)
    return ids


async def test_retry_re_points_unfinished_assets_and_links_both_batches(
    store: PostgresStore, database_url: str
) -> None:
    ids = await _expired_batch(store, database_url)
    new = openai_batch("batch_2", "validating", metadata={"retry_of": "batch_1"})

    link = await store.begin_retry("batch_1", new, ids)
    assert link == RetryLink(linked=True, moved_assets=3)

    by_id = {a.id: a for a in await store.assets_by_ids(ids)}
    assert (by_id[ids[0]].batch_id, by_id[ids[0]].status) == ("batch_1", "completed")
    for asset in ids[1:]:
        assert (by_id[asset].batch_id, by_id[asset].status, by_id[asset].error) == (
            "batch_2",
            "pending",
            None,
        )
    old, fresh = await store.get_batch("batch_1"), await store.get_batch("batch_2")
    assert old is not None and fresh is not None
    assert (old.retried_by, fresh.retry_of, fresh.attempt, fresh.user_id) == (
        "batch_2",
        "batch_1",
        2,
        USER,
    )
    assert (fresh.asset_count, fresh.pending_assets) == (3, 3)


async def test_repeating_the_same_retry_is_a_no_op(store: PostgresStore, database_url: str) -> None:
    ids = await _expired_batch(store, database_url)
    new = openai_batch("batch_2", "validating")
    await store.begin_retry("batch_1", new, ids)
    again = await store.begin_retry("batch_1", new, ids)
    assert again == RetryLink(linked=False, moved_assets=0, existing_retry="batch_2")


async def test_a_second_retry_is_refused_and_names_the_first(
    store: PostgresStore, database_url: str
) -> None:
    ids = await _expired_batch(store, database_url)
    await store.begin_retry("batch_1", openai_batch("batch_2", "validating"), ids)
    with pytest.raises(RetryRefused) as refused:
        await store.begin_retry("batch_1", openai_batch("batch_3", "validating"), ids)
    assert (refused.value.batch_id, refused.value.retried_by) == ("batch_1", "batch_2")
    assert await store.get_batch("batch_3") is None  # nothing of the refused retry stayed
    assert {a.batch_id for a in await store.assets_by_ids(ids[1:])} == {"batch_2"}


async def test_two_concurrent_retries_link_exactly_one(database_url: str) -> None:
    first = await PostgresStore.open(database_url)
    second = await PostgresStore.open(database_url)
    try:
        ids = await _expired_batch(first, database_url)
        outcomes = await asyncio.gather(
            first.begin_retry("batch_1", openai_batch("batch_a", "validating"), ids),
            second.begin_retry("batch_1", openai_batch("batch_b", "validating"), ids),
            return_exceptions=True,
        )
        linked = [o for o in outcomes if isinstance(o, RetryLink)]
        refused = [o for o in outcomes if isinstance(o, RetryRefused)]
        assert len(linked) == len(refused) == 1, outcomes
        winner = (await first.get_batch("batch_1")).retried_by  # type: ignore[union-attr]
        assert refused[0].retried_by == winner
        assert {a.batch_id for a in await first.assets_by_ids(ids[1:])} == {winner}
    finally:
        await first.close()
        await second.close()


async def test_retrying_an_unrecorded_batch_says_to_sync_first(store: PostgresStore) -> None:
    with pytest.raises(StoreError, match="not recorded") as error:
        await store.begin_retry("batch_missing", openai_batch("batch_2", "validating"), [])
    assert not isinstance(error.value, RetryRefused)
    assert "sync the batch first" in str(error.value)
