"""Workers share due batches fairly and keep what they are working on (M3, M5).

A worker claims only what it can start soon, so four workers on the same due batches
each apply a fair share; a lease is renewed while a long apply runs, so no other worker
takes the batch over and downloads it again; a pass counts every request it made.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.helpers.engine import Simulated
from tests.reliability.helpers import fast_worker, ledger, submit_batches, unapplied_batches
from tests.reliability.misbehaving_api import LiveMisbehavingApi
from tests.reliability.sizes import size

log = logging.getLogger(__name__)

WORKERS = 4
DEADLINE = 300.0
RENEWAL_TIMEOUT = 30.0
LEASE = timedelta(seconds=0.6)
RENEWALS_PAST_THE_LEASE = 5  # one every 0.2 s: a second, past the 0.6 s lease


async def test_four_workers_each_apply_a_fair_share_of_the_due_batches(
    simulated: Simulated,
) -> None:
    client, database_url = simulated.client, simulated.database_url
    batches = size(400, 1000)
    batch_ids, ids = await simulated.finished_batches(batches, 1)
    stores = [await PostgresStore.open(database_url) for _ in range(WORKERS)]
    shares: Counter[str] = Counter()

    async def worker(n: int) -> None:
        w = fast_worker(client, stores[n], f"w{n}", concurrency=4)
        while unapplied_batches(database_url, batch_ids):
            report = await w.run_once()
            shares[w.config.worker_id] += report.run.applied

    try:
        await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(WORKERS))), DEADLINE)
    finally:
        for s in stores:
            await s.close()

    assert sum(shares.values()) == batches
    fractions = {w: n / batches for w, n in shares.items()}
    log.info("shares of %d batches: %s", batches, fractions)
    assert len(fractions) == WORKERS and all(0.15 <= f <= 0.35 for f in fractions.values()), (
        fractions
    )
    book = ledger(database_url, ids)
    assert book.lost == [] and book.applied_twice == []


class RenewalWatch(PostgresStore):
    """The real store, telling the test when a worker has renewed its leases enough."""

    wanted = RENEWALS_PAST_THE_LEASE
    renewed: asyncio.Event

    async def renew_claims(self, *args: Any, **kwargs: Any) -> int:
        renewed = await super().renew_claims(*args, **kwargs)
        self.wanted -= renewed
        if self.wanted <= 0:
            self.renewed.set()
        return renewed


async def test_a_long_apply_keeps_its_lease_and_no_other_worker_takes_it(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    database_url: str,
) -> None:
    watched = cast(RenewalWatch, await RenewalWatch.open(database_url))
    watched.renewed = asyncio.Event()
    other_store = await PostgresStore.open(database_url)
    held = misbehaving_api.api.add("hold", r"GET /v1/files/.*/content")
    try:
        [batch_id], ids = await submit_batches(misbehaving_client, watched, database_url, 1, 5)
        misbehaving_api.simulator.advance(3600)
        first = fast_worker(misbehaving_client, watched, "w-long")
        first.config = replace(first.config, lease=LEASE)
        second = fast_worker(misbehaving_client, other_store, "w-other")
        running = asyncio.create_task(first.run_once())
        await asyncio.to_thread(held.arrived.wait, RENEWAL_TIMEOUT)
        # Renewed every third of the lease: by now the first lease has long run out.
        await asyncio.wait_for(watched.renewed.wait(), RENEWAL_TIMEOUT)

        meanwhile = await second.run_once()
        held.release.set()
        done = await running
    finally:
        held.release.set()
        await other_store.close()
        await watched.close()

    assert meanwhile.run.checked == 0  # still leased to the first worker
    assert [a.batch_id for a in done.applied] == [batch_id]
    assert [kind for kind, _ in misbehaving_api.api.corrupted] == ["hold"]  # one download
    book = ledger(database_url, ids)
    assert len(book.completed) == 5 and book.applied_twice == []


async def test_the_pass_counts_every_request_downloads_included(
    simulated: Simulated,
) -> None:
    client, store = simulated.client, simulated.store
    await simulated.finished_batches(3, 2)
    before = client.requests_made

    report = await fast_worker(client, store).run_once()

    assert report.run.applied == 3
    assert report.requests == client.requests_made - before == 1 + 3  # a list page, 3 files
