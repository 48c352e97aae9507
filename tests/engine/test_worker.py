"""Workers handle every due batch, side by side, each batch applied once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from batchmon.engine.submit import submit_assets
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.helpers.engine import assert_predicted, asset_states, fast_worker, history_counts


async def test_three_workers_side_by_side_apply_every_batch_once(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 60)
    assets = await store.assets_by_ids(ids)
    submitted = await submit_assets(client, store, assets, per_batch=4)  # 15 batches
    assert len(submitted.batches) == 15
    simulator.advance(3600)
    stores = [await PostgresStore.open(database_url) for _ in range(2)]
    try:
        workers = [fast_worker(client, s, f"w{i}") for i, s in enumerate([store, *stores], start=1)]
        reports = await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        for s in stores:
            await s.close()

    applied = [a.batch_id for r in reports for a in r.applied if not a.skipped_reason]
    assert sorted(applied) == sorted(b.id for b in submitted.batches)  # each batch once
    assert set(history_counts(database_url, ids).values()) == {1}
    assert_predicted(asset_states(database_url, ids), ids)
    assert fetch_all(database_url, "select count(*) from public.batch_poll_runs") == [(3,)]
    assert fetch_all(
        database_url, "select count(*) from public.batch_claims where claimed_by is not null"
    ) == [(0,)]


async def test_one_pass_handles_more_than_a_claim_page(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 25)
    submitted = await submit_assets(client, store, await store.assets_by_ids(ids), per_batch=1)
    simulator.advance(3600)
    worker = fast_worker(client, store)
    worker.config = replace(worker.config, claim_size=10)
    report = await worker.run_once()

    assert report.run.checked == len(submitted.batches) == 25
    assert report.run.applied == 25
    # Three claim pages of about one list page each, and one download per batch.
    assert report.requests <= 3 * 2 + 25
    assert_predicted(asset_states(database_url, ids), ids)


async def test_stop_before_a_pass_claims_nothing(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 3)
    await submit_assets(client, store, await store.assets_by_ids(ids))
    simulator.advance(3600)
    worker = fast_worker(client, store)
    worker.request_stop()
    report = await worker.run_once()
    assert report.run.checked == 0
    assert {s["status"] for s in asset_states(database_url, ids).values()} == {"pending"}
