"""Claiming due batches: age, poll interval, leases, and several workers at once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, insert_assets, openai_batch

MIN_AGE = timedelta(minutes=5)
INTERVAL = timedelta(minutes=1)
LEASE = timedelta(minutes=10)


def _ago(minutes: float) -> int:
    return int((datetime.now() - timedelta(minutes=minutes)).timestamp())


async def _claim(store: PostgresStore, worker: str, **kw: object) -> list[str]:
    args: dict = {"min_age": MIN_AGE, "interval": INTERVAL, "lease": LEASE, **kw}
    return await store.claim_due(worker, **args)


def _unpoll(database_url: str, batch_id: str = "%") -> None:
    """Pretend the last poll of the batch (default: every batch) was 10 minutes ago."""
    execute(
        database_url,
        "update public.batch_claims set last_polled_at = now() - interval '10 min' "
        "where batch_id like %s",
        (batch_id,),
    )


async def test_only_old_enough_unapplied_batches_not_polled_recently_are_due(
    store: PostgresStore, database_url: str
) -> None:
    await store.record_statuses(
        [
            openai_batch("young", "in_progress", created_at=_ago(1)),
            openai_batch("old", "in_progress", created_at=_ago(30)),
            openai_batch("finished", "completed", created_at=_ago(30)),
            openai_batch("polled", "in_progress", created_at=_ago(30)),
        ]
    )
    await store.finish_apply("finished", unreturned_reason="no result returned")
    _unpoll(database_url)
    execute(
        database_url,
        "update public.batch_claims set last_polled_at = now() where batch_id = 'polled'",
    )

    assert await _claim(store, "w1") == ["old"]
    # A completed batch is due until it has been applied.
    await store.record_statuses([openai_batch("old", "completed", created_at=_ago(30))])
    _unpoll(database_url, "old")
    assert await _claim(store, "w1") == ["old"]
    await store.finish_apply("old", unreturned_reason="no result returned")
    assert await _claim(store, "w1") == []


async def test_a_lease_keeps_other_workers_off_until_released_or_expired(
    store: PostgresStore, database_url: str
) -> None:
    await store.record_statuses(
        [openai_batch(f"b{n}", "in_progress", created_at=_ago(30)) for n in range(3)]
    )
    _unpoll(database_url)
    assert sorted(await _claim(store, "w1")) == ["b0", "b1", "b2"]
    assert await _claim(store, "w2") == []
    # The holder may claim its own batches again (a rerun after a restart).
    assert sorted(await _claim(store, "w1")) == ["b0", "b1", "b2"]

    assert await store.release_claims("w2", ["b0"]) == 0  # not w2's to release
    assert await store.release_claims("w1", ["b0"]) == 1
    assert await _claim(store, "w2") == ["b0"]

    execute(
        database_url, "update public.batch_claims set claim_expires_at = now() - interval '1 s'"
    )
    assert sorted(await _claim(store, "w3")) == ["b0", "b1", "b2"]
    assert await store.release_claims("w3", []) == 0


async def test_limit_hands_out_the_longest_unpolled_first(
    store: PostgresStore, database_url: str
) -> None:
    await store.record_statuses(
        [openai_batch(f"b{n}", "in_progress", created_at=_ago(30)) for n in range(4)]
    )
    for n in range(4):
        execute(
            database_url,
            "update public.batch_claims set last_polled_at = now() - make_interval(mins => %s) "
            "where batch_id = %s",
            (10 + n, f"b{n}"),
        )
    assert await _claim(store, "w1", limit=2) == ["b3", "b2"]


async def test_batches_known_only_from_pending_assets_are_claimable(
    store: PostgresStore, database_url: str
) -> None:
    old = datetime.now().astimezone() - timedelta(minutes=20)
    insert_assets(database_url, 3, batch_id="batch_from_app", created_at=old)
    insert_assets(database_url, 3, batch_id="batch_too_new")

    assert await _claim(store, "w1") == ["batch_from_app"]
    row = await store.get_batch("batch_from_app")
    assert row is not None
    assert (row.status, row.pending_assets, row.created_at) == ("unknown", 3, old)
    assert await store.get_batch("batch_too_new") is not None  # recorded, not yet due


async def test_concurrent_workers_never_claim_the_same_batch(database_url: str) -> None:
    workers = 6
    stores = [
        await PostgresStore.open(database_url, min_size=1, max_size=1) for _ in range(workers)
    ]
    try:
        await stores[0].record_statuses(
            [openai_batch(f"b{n:03}", "in_progress", created_at=_ago(30)) for n in range(200)]
        )
        _unpoll(database_url)
        start = asyncio.Event()

        async def worker(n: int) -> list[str]:
            await start.wait()
            return await _claim(stores[n], f"w{n}", limit=45)

        tasks = [asyncio.create_task(worker(n)) for n in range(workers)]
        start.set()
        claims = await asyncio.gather(*tasks)
    finally:
        for s in stores:
            await s.close()
    everything = [b for c in claims for b in c]
    assert len(everything) == len(set(everything)) == 200
    assert all(len(c) <= 45 for c in claims)
