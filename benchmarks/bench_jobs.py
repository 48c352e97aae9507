"""A job larger than the model's queue: planned and drained, beside "submit everything at once".

    .venv/bin/python benchmarks/bench_jobs.py [--assets 250000] [--token-limit 2000000]
        [--model gpt-4o] [--step 35]

Against the simulator (its own process, a real loopback socket) with an enqueued-token
limit for the model, and an embedded PostgreSQL:

1. **Plan and submit**: ``create_job`` plans every asset into batches within 50,000
   requests, 200 MB and 0.9 of the limit and stores them; one submitter pass sends what
   fits. Time, peak RSS, API requests.
2. **Drain the job**: worker passes (check, apply, settle, submit as headroom frees)
   while the simulator's clock moves ``--step`` simulated seconds between passes, until
   the last asset is applied: simulated and wall time, passes, requests, refusals.
3. **Everything at once** (the baseline, fresh assets): every batch created at once,
   the planner's size each so any one fits an empty queue, no queue in front. OpenAI
   (here the simulator) refuses all but what fits with ``token_limit_exceeded``; the
   worker resubmits refused batches after a wait, and the same clock runs until the
   last asset is applied.

The default model is gpt-4o: with image sizes unknown, gpt-4o-mini's costliest image
(48,169 tokens) leaves 37 requests a batch under a 2,000,000 limit, so 250,000 assets
would be 6,757 batches run one after the other (see docs/jobs.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from _support import (
    SIM_KEY,
    advance_sim,
    counts,
    embedded_database,
    insert_assets,
    load_note,
    peak_rss_mb,
    post_sim,
    reset_peak_rss,
    simulator_process,
)

from batchmon.engine.apply import ResultsPolicy
from batchmon.engine.jobs import JobSubmitter, create_job
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore

IMPATIENT = ResultsPolicy(queue_base=timedelta(milliseconds=1), queue_cap=timedelta(seconds=1))
"""Waits after a refusal are wall-clock; the simulator's clock is what the run measures."""


@dataclass
class Drain:
    """How long until the last asset was applied, and what it took."""

    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    passes: int = 0
    requests: int = 0
    batches: int = 0
    refused: int = 0


def set_queue_limit(base_url: str, model: str, limit: int) -> None:
    post_sim(base_url, "/_sim/config", {"queue": {"enqueued_token_limits": {model: limit}}})


def settled(url: str, ids: list[str]) -> int:
    """How many of ``ids`` have their results applied (completed or failed)."""
    (done,) = counts(
        url,
        "select count(*) from public.assets where id = any(%s::uuid[]) "
        "and auto_tag_status in ('completed', 'failed')",
        (ids,),
    )
    return done


def batch_outcomes(url: str, job: bool) -> tuple[int, int]:
    """(batches created, refused for queue room) of the job's batches or the others."""
    created, refused = counts(
        url,
        "select count(*), count(*) filter (where status = 'failed') "
        "from public.openai_batches where (metadata ? 'batchmon_job') = %s",
        (job,),
    )
    return created, refused


async def drain(
    worker: Worker, client: BatchClient, url: str, base_url: str, ids: list[str], step: float
) -> Drain:
    """Worker passes with ``step`` simulated seconds between them until all is applied."""
    result = Drain()
    client.reset_request_count()
    started = time.perf_counter()
    while True:
        await worker.run_once()
        result.passes += 1
        if settled(url, ids) == len(ids):
            break
        advance_sim(base_url, step)
        result.sim_seconds += step
    result.wall_seconds = time.perf_counter() - started
    result.requests = client.requests_made
    return result


def report(name: str, drained: Drain) -> None:
    print(
        f"{name}: last asset applied after {drained.sim_seconds / 3600:.2f} simulated h "
        f"({drained.wall_seconds:.1f} s wall), {drained.passes:,} worker passes, "
        f"{drained.requests:,} API requests, {drained.batches:,} batches created, "
        f"{drained.refused:,} refused with token_limit_exceeded"
    )


async def run(args: argparse.Namespace) -> int:
    with embedded_database() as url, simulator_process() as base_url:
        set_queue_limit(base_url, args.model, args.token_limit)
        async with BatchClient(api_key=SIM_KEY, base_url=base_url) as client:
            store = await PostgresStore.open(url, max_size=10)
            try:
                await store.set_model_limit(args.model, args.token_limit)
                config = WorkerConfig(
                    interval=timedelta(0),
                    # The simulator's clock runs ahead of the database's (it is advanced
                    # between passes), so its batches look "created in the future".
                    min_age=-timedelta(days=365),
                    worker_id="bench",
                    results=IMPATIENT,
                    token_limits={args.model: args.token_limit},
                )
                worker = Worker(client, store, config)

                job_ids = insert_assets(url, args.assets)
                reset_peak_rss()
                client.reset_request_count()
                started = time.perf_counter()
                assets = await store.assets_by_ids(job_ids)
                plan = await create_job(store, assets, args.model)
                del assets
                sent = await JobSubmitter(
                    client, store, worker_id="bench", default_limits=config.token_limits
                ).submit_ready()
                planned_s = time.perf_counter() - started
                max_batch = max(b.request_count for b in await store.job_batches(plan.job_id))
                print(
                    f"plan and submit: {plan.requests:,} requests in {plan.batches:,} batches "
                    f"(at most {max_batch:,} a batch), "
                    f"{plan.estimated_tokens:,} estimated tokens, estimated cost "
                    f"${plan.estimated_cost or 0:,.2f}: {planned_s:.1f} s, peak RSS "
                    f"{peak_rss_mb():.0f} MB, {client.requests_made:,} API requests "
                    f"({len(sent.submitted)} batch(es) sent at once)"
                )
                job = await drain(worker, client, url, base_url, job_ids, args.step)
                job.batches, job.refused = batch_outcomes(url, job=True)
                report("job (queue in front)", job)
                summary = await store.get_job(plan.job_id)
                if summary is not None:
                    print(
                        f"  job {summary.status}: {summary.completed:,} completed, "
                        f"{summary.failed:,} failed; cost estimated "
                        f"${summary.estimated_cost:,.2f}, actual ${summary.actual_cost:,.2f}"
                    )

                if args.skip_baseline:
                    return 0
                per_batch = -(-plan.requests // max(plan.batches, 1))  # each fits alone
                base_ids = insert_assets(url, args.assets)
                started = time.perf_counter()
                submitted = await submit_assets(
                    client,
                    store,
                    await store.assets_by_ids(base_ids),
                    model=args.model,
                    per_batch=per_batch,
                )
                print(
                    f"everything at once: {len(submitted.batches):,} batches of {per_batch:,} "
                    f"created in {time.perf_counter() - started:.1f} s"
                )
                base = await drain(worker, client, url, base_url, base_ids, args.step)
                base.batches, base.refused = batch_outcomes(url, job=False)
                report("everything at once", base)
            finally:
                await store.close()
    print(load_note())
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assets", type=int, default=250_000)
    parser.add_argument("--token-limit", type=int, default=2_000_000)
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument(
        "--step", type=float, default=35.0, help="simulated seconds between worker passes"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    print(
        f"{args.assets:,} assets, {args.model}, simulator limit {args.token_limit:,} "
        f"enqueued tokens, {args.step:g} simulated s between passes"
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
