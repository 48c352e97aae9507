"""1,000 batches finish at once: how long until the worker has applied every asset?

    .venv/bin/python benchmarks/bench_worker.py [--batches 1000] [--per-batch 10]
        [--concurrency 8]

Batches are submitted to the simulator, its clock is moved past their completion, and
one ``worker --once`` pass runs (claims, list-page status checks, bounded-concurrency
applies). The old cron job checked at most 10 batches a minute, one request each: the
same backlog took ceil(batches / 10) minutes of cron ticks.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from datetime import timedelta

import psycopg
from _support import (
    SIM_KEY,
    advance_sim,
    embedded_database,
    insert_assets,
    load_note,
    simulator_process,
)

from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--per-batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    assets = args.batches * args.per_batch

    with embedded_database() as url, simulator_process() as base_url:
        ids = insert_assets(url, assets)
        async with BatchClient(api_key=SIM_KEY, base_url=base_url) as client:
            store = await PostgresStore.open(url, max_size=args.concurrency + 2)
            try:
                setup = time.perf_counter()
                submitted = await submit_assets(
                    client, store, await store.assets_by_ids(ids), per_batch=args.per_batch
                )
                print(
                    f"submitted {submitted.submitted:,} assets in "
                    f"{len(submitted.batches):,} batches ({time.perf_counter() - setup:.1f}s)"
                )
                advance_sim(base_url, 3600)  # every batch is now completed
                client.reset_request_count()
                worker = Worker(
                    client,
                    store,
                    WorkerConfig(
                        interval=timedelta(0),
                        min_age=timedelta(0),
                        concurrency=args.concurrency,
                        worker_id="bench",
                    ),
                )
                started = time.perf_counter()
                report = await worker.run_once()
                elapsed = time.perf_counter() - started
                requests = client.requests_made
            finally:
                await store.close()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select count(*) filter (where auto_tag_status = 'completed'), count(*) "
                "from public.assets"
            ).fetchone()
    assert row is not None
    done, total = row
    print(
        f"worker pass: {elapsed:.1f}s until {done:,}/{total:,} assets applied "
        f"({report.run.applied:,} batches; {report.requests:,} API requests counted by the "
        f"pass, {requests:,} by the client, downloads included; "
        f"{report.requests - report.run.applied:,} for status; concurrency {args.concurrency})"
    )
    print(
        f"old cron (10 batches/min): {math.ceil(args.batches / 10)} min of ticks, "
        f"{args.batches:,} status requests"
    )
    print(load_note())


if __name__ == "__main__":
    asyncio.run(main())
