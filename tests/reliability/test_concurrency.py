"""Four workers and a desktop engine on the same 200 finished batches at once.

Workers lease batches with ``FOR UPDATE SKIP LOCKED``; the desktop applies what its own
sync sees finish, without claims. Each batch must be applied by exactly one of them,
every asset exactly once (per ``asset_results``), with no deadlock, in bounded time.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from batchmon.engine.apply import BatchApplier
from batchmon.engine.sync import BatchSync
from batchmon.store.postgres import PostgresStore
from tests.helpers.engine import Simulated
from tests.reliability.helpers import fast_worker, ledger, unapplied_batches
from tests.reliability.sizes import size

WORKERS = 4
DEADLINE = 120.0


async def test_four_workers_and_a_desktop_apply_each_batch_once_without_deadlock(
    simulated: Simulated,
) -> None:
    client, database_url = simulated.client, simulated.database_url
    batch_ids, ids = await simulated.finished_batches(size(200, 200), 2)
    stores = [await PostgresStore.open(database_url) for _ in range(WORKERS + 1)]
    appliers: Counter[str] = Counter()  # batch -> how many actors changed its assets

    async def worker(n: int) -> None:
        w = fast_worker(client, stores[n], f"w{n}", concurrency=8)
        while unapplied_batches(database_url, batch_ids):
            report = await w.run_once()
            appliers.update(a.batch_id for a in report.applied if a.changed)

    async def desktop() -> None:
        sync, applier = BatchSync(client, stores[WORKERS]), BatchApplier(client, stores[WORKERS])
        while unapplied_batches(database_url, batch_ids):
            result = await sync.check(batch_ids)
            for batch in result.batches.values():
                report = await applier.apply(batch)
                if report.changed:
                    appliers[batch.id] += 1

    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker(n) for n in range(WORKERS)), desktop()), DEADLINE
        )
    finally:
        for s in stores:
            await s.close()

    books = ledger(database_url, ids)
    assert books.lost == []
    assert books.applied_twice == []
    assert books.wrong_tags() == []
    assert set(appliers) == set(batch_ids)
    assert set(appliers.values()) == {1}
    runs = await simulated.store.recent_poll_runs(limit=10_000)
    assert all(r.error is None for r in runs)
