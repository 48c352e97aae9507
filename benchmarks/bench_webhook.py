"""Time from a batch's completion to its assets applied: webhook path vs the minute poll.

    .venv/bin/python benchmarks/bench_webhook.py [--rows 1000] [--rounds 5] [--interval 60]

Everything crosses real loopback sockets: the simulator (on a manual clock) serves the
OpenAI API and delivers signed webhooks; `batchmon webhook`'s app, served by uvicorn,
verifies each with the openai SDK and applies the batch into an embedded PostgreSQL.

Webhook path: the clock is advanced past the batch's end (the simulated completion), a
delivery round sends the event, and the timer stops when the apply has committed.
OpenAI's own delay before sending is not included (it is not ours to measure).
Poll path: a worker pass (claim, status check, apply) is timed for real on an identical
batch; a completion lands on average half an interval before the next pass, so the
expected latency is interval/2 + pass time, and the worst case interval + pass time.
The simulator shares this process and loop, so both paths include its generating the
output file (about 0.15 s per 1,000 lines), as a real API's download time would be.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import time
from datetime import timedelta

import uvicorn
from _support import SIM_KEY, embedded_database, insert_assets
from starlette.applications import Starlette

from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim import ManualClock, Simulator, WebhookEndpoint, create_app
from batchmon.sim.webhooks import new_secret
from batchmon.store.postgres import PostgresStore
from batchmon.webhooks import ApplyOnEvent, WebhookVerifier, create_webhook_app


class _Server(uvicorn.Server):
    """Sets `ready` once listening, so startup is awaited rather than polled."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


async def serve(app: Starlette) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """uvicorn on a free 127.0.0.1 port in this loop; returns once it listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await asyncio.wait_for(server.ready.wait(), 30)
    if not server.started:
        raise RuntimeError("uvicorn did not start listening")
    return server, task, int(sock.getsockname()[1])


class Timed:
    """ApplyOnEvent that resolves a future when a batch's apply has committed."""

    def __init__(self, inner: ApplyOnEvent) -> None:
        self.inner = inner
        self.waiting: dict[str, asyncio.Future[float]] = {}

    async def __call__(self, batch_id: str, event_type: str) -> None:
        outcome = await self.inner.handle(batch_id, event_type)
        assert outcome.action == "applied", outcome
        self.waiting[batch_id].set_result(time.perf_counter())


async def submit(client: BatchClient, store: PostgresStore, url: str, rows: int) -> str:
    ids = insert_assets(url, rows)
    assets = await store.assets_by_ids(ids)
    result = await submit_assets(client, store, assets, metadata={"sim_duration": "60"})
    return result.batches[0].id


async def main(rows: int, rounds: int, interval: float) -> None:
    # Simulated time stays in the past, so the worker sees every batch as old enough.
    sim = Simulator(ManualClock(start=time.time() - 3600 * (2 * rounds + 2)), api_key=SIM_KEY)
    secret = new_secret()
    with embedded_database() as url:
        store = await PostgresStore.open(url)
        sim_server, sim_task, sim_port = await serve(create_app(sim))
        client = BatchClient(api_key=SIM_KEY, base_url=f"http://127.0.0.1:{sim_port}/v1")
        handler = Timed(ApplyOnEvent(client, store))
        verifier = WebhookVerifier([secret])
        hook_server, hook_task, hook_port = await serve(create_webhook_app(verifier, handler))
        sim.webhooks.configure(
            WebhookEndpoint(url=f"http://127.0.0.1:{hook_port}/webhooks/openai", secret=secret)
        )
        worker = Worker(
            client,
            store,
            WorkerConfig(interval=timedelta(0), min_age=timedelta(0), worker_id="bench"),
        )
        try:
            webhook_ms: list[float] = []
            for _ in range(rounds):
                batch_id = await submit(client, store, url, rows)
                handler.waiting[batch_id] = asyncio.get_running_loop().create_future()
                sim.advance(3600)
                started = time.perf_counter()
                await sim.webhooks.deliver_due()
                applied_at = await asyncio.wait_for(handler.waiting[batch_id], 120)
                webhook_ms.append((applied_at - started) * 1000)

            sim.webhooks.configure(None)
            pass_ms: list[float] = []
            for _ in range(rounds):
                await submit(client, store, url, rows)
                sim.advance(3600)
                started = time.perf_counter()
                report = await worker.run_once()
                pass_ms.append((time.perf_counter() - started) * 1000)
                assert report.run.applied == 1, report.run
        finally:
            await client.aclose()
            verifier.close()
            for server, task in ((hook_server, hook_task), (sim_server, sim_task)):
                server.should_exit = True
                await task
            await store.close()

    hook_med = statistics.median(webhook_ms)
    pass_med = statistics.median(pass_ms)
    expected = interval * 1000 / 2 + pass_med
    worst = interval * 1000 + pass_med
    print(f"completion -> assets applied, {rows} assets per batch, {rounds} rounds")
    print(f"{'path':<28}{'median':>12}{'max':>12}")
    print(f"{'webhook (measured)':<28}{hook_med:>10.0f}ms{max(webhook_ms):>10.0f}ms")
    print(f"{'poll pass alone (measured)':<28}{pass_med:>10.0f}ms{max(pass_ms):>10.0f}ms")
    label = f"poll every {interval:g}s (expected)"
    print(f"{label:<28}{expected / 1000:>11.1f}s{worst / 1000:>11.1f}s")
    print(f"webhook is {expected / hook_med:.0f}x faster than the poll on average")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="assets per batch")
    parser.add_argument("--rounds", type=int, default=5, help="batches per path")
    parser.add_argument("--interval", type=float, default=60.0, help="poll interval (s)")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.rounds, args.interval))
