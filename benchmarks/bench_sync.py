"""HTTP requests and wall time of one sync pass over N pending batches.

    .venv/bin/python benchmarks/bench_sync.py [--sizes 1,10,100,1000] [--others 400]

batchmon's pass (BatchSync: list pages, 100 batches each) against the old way, one
``GET /batches/{id}`` per batch, in the same run against the simulator over loopback.
Target: at most ceil(N/100) + 1 requests per pass. A second table repeats the 100-batch
pass with ``--others`` newer batches of other software in the same project, which the
list pages must wade through: target at most ceil((100 + others)/100) + 1 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time

from _support import SIM_KEY, embedded_database, insert_assets, load_note, simulator_process

from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore

LINE = (
    b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
    b'"body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}\n'
)


async def measure(size: int, base_url: str, others: int = 0) -> tuple[int, float, int, float]:
    with embedded_database() as url:
        async with BatchClient(api_key=SIM_KEY, base_url=base_url) as setup:
            upload = await setup.upload_jsonl(LINE, filename="in.jsonl")
            store = await PostgresStore.open(url)
            try:
                ids = insert_assets(url, size)
                batch_ids = []
                for asset_id in ids:
                    batch = await setup.create_batch(
                        input_file_id=upload.id, endpoint="/v1/chat/completions"
                    )
                    await store.mark_submitted(batch.model_dump(mode="json"), [asset_id])
                    batch_ids.append(batch.id)
                for _ in range(others):  # newer, and none of batchmon's business
                    await setup.create_batch(
                        input_file_id=upload.id, endpoint="/v1/chat/completions"
                    )
                # A fresh client: nothing remembered from creating the batches.
                async with BatchClient(api_key=SIM_KEY, base_url=base_url) as client:
                    started = time.perf_counter()
                    result = await BatchSync(client, store).run()
                    ours_time = time.perf_counter() - started
                    ours = result.requests
                    assert len(result.batches) == size
                async with BatchClient(api_key=SIM_KEY, base_url=base_url) as client:
                    started = time.perf_counter()
                    for batch_id in batch_ids:
                        await client.retrieve(batch_id)
                    theirs_time = time.perf_counter() - started
                    theirs = client.requests_made
            finally:
                await store.close()
    return ours, ours_time, theirs, theirs_time


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--others", type=int, default=400)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'pending':>8} {'batchmon req':>13} {'target':>7} {'time':>8} "
        f"{'per-batch req':>14} {'time':>8}"
    )
    with simulator_process() as base_url:
        for size in sizes:
            await report(size, base_url)
        if args.others:
            print(f"\n100 pending, {args.others} newer batches of other software:")
            await report(100, base_url, args.others)
    print(load_note())


async def report(size: int, base_url: str, others: int = 0) -> None:
    """One table row: requests and time for ``size`` pending batches behind ``others``.

    The target, ceil(listed / 100) + 1, is a page of 100 per listed batch and one more.
    """
    ours, ours_time, theirs, theirs_time = await measure(size, base_url, others)
    target = math.ceil((size + others) / 100) + 1
    mark = "ok" if ours <= target else "MISSED"
    print(
        f"{size:>8} {ours:>13} {target:>5} {mark:<2} {ours_time:>7.3f}s "
        f"{theirs:>13} {theirs_time:>8.3f}s"
    )


if __name__ == "__main__":
    asyncio.run(main())
