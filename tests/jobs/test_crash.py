"""A submitter that dies mid-submit loses nothing, and its successor makes no second batch."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import JobSubmitter, create_job
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all, insert_assets
from tests.helpers.engine import RED_FOX
from tests.helpers.jobs import asset_groups, openai_batches_of_job


async def test_a_crash_after_the_create_makes_no_second_batch(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 5, url_prefix=RED_FOX)
    plan = await create_job(store, await store.assets_by_ids(ids), limits=PlanLimits())
    doomed = asyncio.create_task(JobSubmitter(client, store, worker_id="w1").submit_ready())

    def crash_on_create(body: dict[str, Any], status: str) -> None:
        if status == "validating":  # the batch exists; its answer is still on the way
            doomed.cancel()

    simulator.add_listener(crash_on_create)
    with contextlib.suppress(asyncio.CancelledError):
        await doomed
    assert doomed.cancelled()
    assert len(simulator.list_batches(limit=100)["data"]) == 1  # made at OpenAI...
    assert openai_batches_of_job(database_url, plan.job_id) == []  # ...and never recorded
    assert fetch_all(
        database_url,
        "select count(*) from public.assets where id = any(%s::uuid[]) and openai_batch_id is null",
        (ids,),
    ) == [(5,)]

    # The lease of the dead submitter runs out; another takes the batch over.
    execute(
        database_url,
        "update public.batchmon_job_batches set claim_expires_at = now() where job_id = %s",
        (plan.job_id,),
    )
    report = await JobSubmitter(client, store, worker_id="w2").submit_ready()

    (made,) = simulator.list_batches(limit=100)["data"]
    assert report.submitted == [made["id"]]  # found, not made again
    assert asset_groups(database_url, ids, "openai_batch_id", "auto_tag_status") == [
        (report.submitted[0], "pending", 5)
    ]
