"""The demo's big job: larger than its simulator's queue limit, it queues and drains."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from batchmon.engine.worker import PassReport
from batchmon.store.job_rows import JobSummary
from batchmon.ui.demo import DEMO_JOB, DEMO_QUEUE_LIMIT, DemoEnvironment, DemoPace
from tests.fixtures.postgres import fetch_all

TIMEOUT = 60.0


async def test_the_demo_job_waits_for_queue_room_and_every_asset_is_tagged(
    tmp_path: Path,
) -> None:
    env = DemoEnvironment(tmp_path, DemoPace(day_seconds=3.0))
    try:
        await env.start()
        assert env.store is not None and env.database_url is not None
        passes: asyncio.Queue[PassReport] = asyncio.Queue()
        env.start_worker(on_pass=passes.put_nowait)
        assert await env.submit_demo_batches([], job=DEMO_JOB) == []
        assert env.job_id is not None
        job = await env.store.get_job(env.job_id)
        assert job is not None and job.batches_queued >= 4  # more than the queue can hold
        seen: list[JobSummary] = [job]
        deadline = time.monotonic() + TIMEOUT
        while job.status == "running" and time.monotonic() < deadline:
            await asyncio.wait_for(passes.get(), TIMEOUT)  # the worker's next pass ended
            job = await env.store.get_job(env.job_id)
            assert job is not None
            seen.append(job)
        assert job.status == "done" and job.completed == len(DEMO_JOB.subjects)
        assert job.failed == 0
        # It queued: batches waited while one ran, never two at once within the limit.
        assert any(s.batches_queued and s.batches_running for s in seen)
        assert max(s.batches_running for s in seen) == 1
        assert max(s.tokens_enqueued for s in seen) <= DEMO_QUEUE_LIMIT
        statuses = fetch_all(
            env.database_url,
            "select status from public.openai_batches where metadata ->> 'batchmon_job' = %s",
            (env.job_id,),
        )
        assert statuses and {s for (s,) in statuses} == {"completed"}  # none refused
    finally:
        await env.aclose()
