"""The limit a refusal names is read from its message; a budget stops a job's submissions."""

from __future__ import annotations

import pytest

from batchmon.core.planner import PlanError, PlanLimits
from batchmon.engine.jobs import create_job, learned_limit
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import insert_assets
from tests.helpers.engine import RED_FOX, fast_worker
from tests.helpers.jobs import LIMIT, MODEL, openai_batches_of_job

REFUSAL = (
    "Enqueued token limit reached for gpt-4o in organization org-x. Limit: {} enqueued "
    "tokens. Please try again once some in_progress batches have been completed."
)


@pytest.mark.parametrize(
    ("shown", "limit"), [("90,000", 90_000), ("2000000", 2_000_000), ("1_350_000", 1_350_000)]
)
def test_the_limit_is_read_from_the_refusal_message(shown: str, limit: int) -> None:
    errors = [{"code": "token_limit_exceeded", "message": REFUSAL.format(shown)}]
    assert learned_limit(errors) == limit


def test_a_refusal_that_names_no_limit_teaches_nothing() -> None:
    assert learned_limit([{"code": "token_limit_exceeded", "message": "Try again later."}]) is None
    assert learned_limit(None) is None


async def test_a_job_stops_submitting_before_its_estimate_passes_max_cost(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 8, url_prefix=RED_FOX)
    await store.set_model_limit(MODEL, 100 * LIMIT)  # the queue is not what stops it
    limits = PlanLimits(max_requests=4)
    preview = await create_job(store, await store.assets_by_ids(ids[:4]), MODEL, limits=limits)
    one_batch = preview.estimated_cost
    assert one_batch is not None
    await store.cancel_job(preview.job_id)
    plan = await create_job(
        store, await store.assets_by_ids(ids), MODEL, limits=limits, max_cost=1.5 * one_batch
    )
    report = await fast_worker(client, store).run_once()

    assert report.jobs is not None and len(report.jobs.submitted) == 1
    assert len(openai_batches_of_job(database_url, plan.job_id)) == 1
    job = await store.get_job(plan.job_id)
    assert job is not None and (job.batches_running, job.batches_queued) == (1, 1)


async def test_a_plan_that_fails_half_way_is_cancelled_and_nothing_is_sent(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 6, url_prefix=RED_FOX)
    too_long = insert_assets(database_url, 1, url_prefix=RED_FOX + "/" + "x" * 3_000)
    assets = await store.assets_by_ids(ids) + await store.assets_by_ids(too_long)
    with pytest.raises(PlanError, match=r"request line 7 .* bytes"):
        await create_job(store, assets, MODEL, limits=PlanLimits(max_requests=2, max_bytes=2_500))

    (job,) = await store.job_summaries()
    # The two batches closed before line 7 were stored, and are dropped with the job.
    assert job.status == "cancelled" and job.batches_done == 2
    report = await fast_worker(client, store).run_once()
    assert report.jobs is not None and report.jobs.submitted == []
    assert simulator.list_batches(limit=100)["data"] == []
