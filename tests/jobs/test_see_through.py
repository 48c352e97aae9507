"""A job sees its assets through: expired remainders go again, up to the job's attempts."""

from __future__ import annotations

import pytest

from batchmon.engine.jobs import create_job
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.helpers.engine import RED_FOX, fast_worker, finish
from tests.helpers.jobs import (
    LIMIT,
    MODEL,
    ONE_REQUEST,
    SIZE,
    SIZED_REQUEST,
    limited_job,
    openai_batches_of_job,
)

PAST_THE_WINDOW = 25 * 3600.0
"""Long enough for a 24 h completion window to pass: a stalled batch expires."""


async def _expire_first_submission(
    client: BatchClient,
    store: PostgresStore,
    simulator: Simulator,
    attempts: int,
    ids: list[str],
    image_size: tuple[int, int] | None = None,
) -> str:
    await store.set_model_limit(MODEL, LIMIT)  # one batch of four at a time
    assets = await store.assets_by_ids(ids)
    plan = await create_job(store, assets, MODEL, attempts=attempts, image_size=image_size)
    worker = fast_worker(client, store)
    first = await worker.run_once()
    assert first.jobs is not None
    (batch_id,) = first.jobs.submitted
    simulator.script_batch(batch_id, {"expire": 0.5})  # half runs, then the window passes
    for _ in range(6):
        finish(simulator, PAST_THE_WINDOW)
        await worker.run_once()
    return plan.job_id


@pytest.mark.parametrize("attempts", [2, 1])
async def test_the_expired_remainder_goes_again_only_while_attempts_are_left(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    attempts: int,
) -> None:
    ids = insert_assets(database_url, 4, url_prefix=RED_FOX)
    job_id = await _expire_first_submission(client, store, simulator, attempts, ids)

    job = await store.get_job(job_id)
    sent = openai_batches_of_job(database_url, job_id)
    assert job is not None and job.status == "done"
    assert sent[0][1] == "expired"
    if attempts == 2:
        assert len(sent) == 2 and sent[1][1] == "completed"
        assert (job.completed, job.failed) == (4, 0)
        batches = await store.job_batches(job_id)
        assert [(b.ordinal, b.attempt, b.request_count) for b in batches] == [
            (1, 1, 4),
            (2, 2, 4 - _completed_in(database_url, sent[0][0])),
        ]
    else:
        assert len(sent) == 1
        assert job.completed + job.failed == 4 and job.failed > 0
        # What is left failed keeps its reason.
        reasons = fetch_all(
            database_url,
            "select distinct auto_tag_error from public.assets "
            "where id = any(%s::uuid[]) and auto_tag_status = 'failed'",
            (ids,),
        )
        assert all(reason for (reason,) in reasons)
    assert job.actual_cost > 0


async def test_the_remainder_of_a_job_planned_at_an_image_size_is_estimated_at_it(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 4, url_prefix=RED_FOX)
    job_id = await _expire_first_submission(client, store, simulator, 2, ids, image_size=SIZE)

    job = await store.get_job(job_id)
    assert job is not None and (job.status, job.completed, job.image_size) == ("done", 4, SIZE)
    first, again = await store.job_batches(job_id)
    assert (first.attempt, first.estimated_tokens) == (1, 4 * SIZED_REQUEST)
    assert again.attempt == 2 and again.request_count > 0
    assert again.estimated_tokens == again.request_count * SIZED_REQUEST
    # The costliest image would have held tens of times the queue room it uses.
    assert again.estimated_tokens * 5 < again.request_count * ONE_REQUEST


def _completed_in(database_url: str, batch_id: str) -> int:
    (count,) = fetch_all(
        database_url,
        "select count(*) from public.asset_results where batch_id = %s and status = 'completed'",
        (batch_id,),
    )[0]
    return int(count)


async def test_permanent_failures_are_not_sent_again_and_the_job_still_ends(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids, plan = await limited_job(store, database_url, 4)
    worker = fast_worker(client, store)
    first = await worker.run_once()
    assert first.jobs is not None
    (batch_id,) = first.jobs.submitted
    simulator.script_batch(batch_id, {"fail_fraction": 0.5})  # HTTP 400: a bad image URL
    for _ in range(3):
        finish(simulator)
        await worker.run_once()

    job = await store.get_job(plan.job_id)
    assert job is not None and job.status == "done" and job.failed > 0
    assert job.completed + job.failed == 4
    assert len(openai_batches_of_job(database_url, plan.job_id)) == 1  # nothing sent again
    reasons = fetch_all(
        database_url,
        "select auto_tag_error from public.assets "
        "where id = any(%s::uuid[]) and auto_tag_status = 'failed'",
        (ids,),
    )
    assert reasons and all("HTTP 400" in reason for (reason,) in reasons)
