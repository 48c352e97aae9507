"""A job larger than the model's limit drains through the queue, never refused once known."""

from __future__ import annotations

import asyncio

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import create_job
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.helpers.engine import RED_FOX, assert_predicted, asset_states, fast_worker, finish
from tests.helpers.jobs import (
    LIMIT,
    MODEL,
    ONE_REQUEST,
    assets_in_live_batches,
    limited_job,
    openai_batches_of_job,
)


async def test_a_job_larger_than_the_limit_drains_with_no_batch_refused(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids, plan = await limited_job(store, database_url, 20)
    assert plan.batches == 5 and plan.requests == 20  # four requests a batch
    assert plan.estimated_tokens == 20 * ONE_REQUEST and plan.estimated_cost

    worker = fast_worker(client, store)
    in_flight = []
    for _ in range(12):
        report = await worker.run_once()
        assert report.jobs is not None and not report.jobs.errors
        summary = await store.get_job(plan.job_id)
        assert summary is not None
        in_flight.append(summary.batches_running)
        assert summary.tokens_enqueued <= LIMIT
        assert set(assets_in_live_batches(simulator).values()) <= {1}  # never in two
        if summary.status == "done":
            break
        finish(simulator)

    summary = await store.get_job(plan.job_id)
    assert summary is not None and summary.status == "done" and summary.completed == 20
    assert max(in_flight) == 1  # the limit holds one planned batch at a time
    sent = openai_batches_of_job(database_url, plan.job_id)
    assert len(sent) == 5 and {status for _, status in sent} == {"completed"}
    assert_predicted(asset_states(database_url, ids), ids)
    assert summary.actual_cost > 0


async def test_two_submitters_at_once_send_each_planned_batch_once(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 24, url_prefix=RED_FOX)
    await store.set_model_limit(MODEL, 100 * LIMIT)  # room for every batch at once
    plan = await create_job(
        store, await store.assets_by_ids(ids), MODEL, limits=PlanLimits(max_requests=4)
    )
    other = await PostgresStore.open(database_url)
    try:
        workers = [fast_worker(client, store, "w1"), fast_worker(client, other, "w2")]
        reports = await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        await other.close()

    submitted = [b for r in reports for b in (r.jobs.submitted if r.jobs else [])]
    live = assets_in_live_batches(simulator)
    assert sorted(live) == sorted(ids) and set(live.values()) == {1}
    assert len(submitted) == plan.batches == 6
    assert len(openai_batches_of_job(database_url, plan.job_id)) == 6
    # No asset in two batches: each points at exactly one, and each batch holds four.
    rows = fetch_all(
        database_url,
        "select openai_batch_id, count(*) from public.assets where id = any(%s::uuid[]) group by 1",
        (ids,),
    )
    assert sorted(n for _, n in rows) == [4] * 6 and {b for b, _ in rows} == set(submitted)
