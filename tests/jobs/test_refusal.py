"""A batch refused for queue room teaches the limit and goes back to the queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import CANCELLED_BEFORE_START, JobPlan, create_job
from batchmon.engine.worker import PassReport, Worker
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.queue import QueueLimits
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.helpers.engine import RED_FOX, assert_predicted, asset_states, fast_worker, finish
from tests.helpers.jobs import (
    MODEL,
    ONE_REQUEST,
    SIZE,
    SIZED_REQUEST,
    asset_groups,
    openai_batches_of_job,
    room_for_four,
)

TINY = 100
"""A queue smaller than any one request: every batch is refused."""


async def _refused_once(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    count: int,
    *,
    queue_wait: timedelta = timedelta(0),
    **job: Any,
) -> tuple[JobPlan, Worker, PassReport, list[str]]:
    """A job of ``count`` assets sent with no limit known, and the pass that sees it refused.

    ``job``: more options of ``create_job`` (``image_size``).
    """
    ids = insert_assets(database_url, count, url_prefix=RED_FOX)
    assets = await store.assets_by_ids(ids)
    plan = await create_job(store, assets, MODEL, limits=PlanLimits(), **job)
    worker = fast_worker(client, store)
    results = replace(worker.config.results, queue_base=queue_wait)
    worker.config = replace(worker.config, token_limits={}, results=results)
    await worker.run_once()  # submits the one planned batch
    finish(simulator)
    return plan, worker, await worker.run_once(), ids


async def test_a_refused_batch_learns_the_limit_and_is_sent_again_later(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    simulator.queue = QueueLimits({MODEL: TINY})
    # The pass that sees the refusal learns the limit and submits again at once.
    plan, worker, report, ids = await _refused_once(client, store, database_url, simulator, 6)

    assert report.jobs is not None and report.jobs.learned == {MODEL: TINY}
    (limit,) = await store.model_limits()
    assert (limit.model, limit.enqueued_token_limit, limit.source) == (MODEL, TINY, "learned")
    (first, _), (second, _) = openai_batches_of_job(database_url, plan.job_id)
    assert report.jobs.refused == [first] and report.jobs.submitted == [second]
    # Nothing failed: the assets waited, and moved to the second submission.
    assert asset_groups(database_url, ids, "auto_tag_status", "openai_batch_id") == [
        ("pending", second, 6)
    ]

    simulator.queue = QueueLimits({MODEL: 10**9})  # room now
    for _ in range(4):
        finish(simulator)
        await worker.run_once()
    job = await store.get_job(plan.job_id)
    assert job is not None and (job.status, job.completed) == ("done", 6)
    assert_predicted(asset_states(database_url, ids), ids)
    assert fetch_all(
        database_url,
        "select count(*) from public.asset_results where asset_id = any(%s::uuid[])",
        (ids,),
    ) == [(6,)]  # each asset applied once


async def test_a_refused_batch_waits_its_backoff_before_it_goes_again(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    simulator.queue = QueueLimits({MODEL: TINY})
    plan, worker, report, _ = await _refused_once(
        client, store, database_url, simulator, 3, queue_wait=timedelta(minutes=10)
    )

    assert report.jobs is not None and len(report.jobs.refused) == 1
    assert report.jobs.submitted == []
    (batch,) = await store.job_batches(plan.job_id)
    assert (batch.state, batch.attempts) == ("refused", 1)
    again = await worker.run_once()
    assert again.jobs is not None and again.jobs.submitted == []
    assert len(openai_batches_of_job(database_url, plan.job_id)) == 1


@pytest.mark.parametrize(
    ("image_size", "one_request"),
    [(None, ONE_REQUEST), (SIZE, SIZED_REQUEST)],
    ids=["costliest", "512x512"],
)
async def test_a_batch_too_big_for_the_limit_learned_is_split_at_its_image_size_and_drains(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    image_size: tuple[int, int] | None,
    one_request: int,
) -> None:
    # The queue counts images as the job was planned; at SIZE, one request at the
    # costliest image alone would pass the limit, and nothing could split the batch.
    limit = room_for_four(one_request)
    assert image_size is None or limit < ONE_REQUEST
    simulator.queue = QueueLimits({MODEL: limit}, image_size=image_size)
    plan, worker, report, ids = await _refused_once(
        client, store, database_url, simulator, 8, image_size=image_size
    )

    assert report.jobs is not None and report.jobs.learned == {MODEL: limit}
    assert list(report.jobs.split.values()) == [2]  # four requests a part
    parts = await store.job_batches(plan.job_id)
    assert [(b.request_count, b.estimated_tokens) for b in parts] == [(4, 4 * one_request)] * 2
    for _ in range(8):
        finish(simulator)
        await worker.run_once()
    job = await store.get_job(plan.job_id)
    assert job is not None and (job.status, job.completed) == ("done", 8)
    statuses = [status for _, status in openai_batches_of_job(database_url, plan.job_id)]
    assert statuses == ["failed", "completed", "completed"]  # only the first was refused
    assert_predicted(asset_states(database_url, ids), ids)


async def test_cancelling_a_job_frees_the_assets_of_its_refused_batch(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    simulator.queue = QueueLimits({MODEL: TINY})
    ids = insert_assets(database_url, 3, url_prefix=RED_FOX)
    plan = await create_job(store, await store.assets_by_ids(ids), MODEL, limits=PlanLimits())
    worker = fast_worker(client, store)
    worker.config = replace(worker.config, token_limits={})
    await worker.run_once()
    await store.cancel_job(plan.job_id)
    finish(simulator)
    await worker.run_once()  # sees the refusal of a batch whose job is gone

    job = await store.get_job(plan.job_id)
    assert job is not None and job.status == "cancelled" and job.finished_at is not None
    assert asset_groups(database_url, ids, "auto_tag_status", "auto_tag_error") == [
        ("failed", CANCELLED_BEFORE_START, 3)
    ]
    assert await store.ended_job_batches() == []
