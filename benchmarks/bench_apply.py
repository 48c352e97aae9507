"""Apply a 50,000-line batch output into 50,000 assets: batchmon vs one UPDATE per row.

    .venv/bin/python benchmarks/bench_apply.py [--rows 50000] [--baseline-rows 5000]

Both read the same file from the simulator over loopback. batchmon streams, parses with
core.ResultParser and writes through PostgresStore (COPY + one UPDATE ... FROM per
chunk). The baseline is what a quick edge function does: for each line, one UPDATE
statement (timed over --baseline-rows lines, then reported as a rate).
Targets: >= 25,000 rows/s, >= 20x the baseline, peak RSS growth <= 64 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import psycopg
from _support import (
    SIM_KEY,
    batch_json,
    embedded_database,
    insert_assets,
    load_note,
    peak_rss_mb,
    reset_peak_rss,
    simulator_process,
)
from openai.types import Batch

from batchmon.core.results import ResultParser
from batchmon.engine.apply import BatchApplier
from batchmon.openai_batches import BatchClient
from batchmon.sim.outputs import chat_body
from batchmon.store.postgres import PostgresStore

BATCH = "batch_bench_apply"
WORDS = ("lake", "mountain", "sunset", "forest", "reflection", "calm", "water", "sky")


def output_line(n: int, custom_id: str) -> bytes:
    """A chat-completions output line of realistic size (~1.2 KB, like OpenAI's)."""
    tags = [WORDS[(n + i) % len(WORDS)] for i in range(6)]
    rid = f"{n:012d}AbCdEfGhIjKlMnOpQrStUvWxYz"
    content = json.dumps({"tags": tags})
    body = chat_body(rid, "gpt-4o-mini-2024-07-18", 1767225600 + n, content, 1123, 24)
    line = {
        "id": f"batch_req_{n:024d}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": f"{n:032x}", "body": body},
        "error": None,
    }
    return json.dumps(line).encode()


def error_line(n: int, custom_id: str) -> bytes:
    line = {
        "id": f"batch_req_{n:024d}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": "server_error", "message": "The server had an error processing it."},
    }
    return json.dumps(line).encode()


async def upload(client: BatchClient, ids: list[str]) -> tuple[str, str, int]:
    ok: list[bytes] = []
    bad: list[bytes] = []
    for n, asset_id in enumerate(ids):
        if n % 100 == 99:
            bad.append(error_line(n, asset_id))
        else:
            ok.append(output_line(n, asset_id))
    out = b"\n".join(ok) + b"\n"
    err = b"\n".join(bad) + b"\n"
    out_file = await client.upload_jsonl(out, filename="output.jsonl")
    err_file = await client.upload_jsonl(err, filename="errors.jsonl")
    return out_file.id, err_file.id, len(out) + len(err)


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update public.assets set auto_tag_status = 'pending', tags = null, "
            "auto_tag_error = null, tagged_at = null"
        )
        conn.execute("update public.openai_batches set applied_at = null")
        conn.execute("truncate public.asset_results")
        conn.execute("vacuum analyze public.assets")


async def baseline(url: str, client: BatchClient, out_id: str, limit: int) -> float:
    """One UPDATE per row, autocommit, like a small serverless function; rows/s."""
    parser = ResultParser()
    rows = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        async for raw in client.iter_output_lines(out_id):
            outcome = parser.feed(raw, rows + 1)
            await conn.execute(
                "update public.assets set tags = %s, auto_tag_status = 'completed', "
                "tagged_at = now() where id = %s and auto_tag_status = 'pending'",
                (outcome.tags, outcome.custom_id),
            )
            rows += 1
            if rows >= limit:
                break
        elapsed = time.perf_counter() - started
    return rows / elapsed


def _json_parser() -> str:
    """Which JSON library the result parser's fast path uses (orjson is optional)."""
    from batchmon.core import results

    loads = results._fast_loads
    return "json (standard library)" if loads is results._stdlib_loads else loads.__module__


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    args = parser.parse_args()

    with embedded_database() as url, simulator_process() as base_url:
        ids = insert_assets(url, args.rows, batch_id=BATCH)
        async with BatchClient(api_key=SIM_KEY, base_url=base_url, timeout=300) as client:
            out_id, err_id, size = await upload(client, ids)
            print(
                f"rows: {args.rows:,}  file: {size / 1e6:.1f} MB  "
                f"(~{size // args.rows} bytes/line, 1% error lines)"
            )
            raw = batch_json(
                BATCH,
                "completed",
                output_file_id=out_id,
                error_file_id=err_id,
                request_counts={
                    "total": args.rows,
                    "completed": args.rows - args.rows // 100,
                    "failed": args.rows // 100,
                },
            )
            batch = Batch.model_validate(raw)
            store = await PostgresStore.open(url)
            try:
                await store.record_statuses([raw])
                reset(url)
                rss_before = reset_peak_rss()
                started = time.perf_counter()
                report = await BatchApplier(client, store).apply(batch)
                elapsed = time.perf_counter() - started
                rss_growth = peak_rss_mb() - rss_before
            finally:
                await store.close()
            assert report.changed == args.rows, report.summary()
            ours = args.rows / elapsed
            print(
                f"batchmon apply:     {elapsed:6.2f} s  {ours:10,.0f} rows/s  "
                f"({report.counts.completed:,} tagged, {report.counts.failed:,} failed)"
            )
            reset(url)
            theirs = await baseline(url, client, out_id, min(args.baseline_rows, args.rows))
            print(
                f"UPDATE per row:     {'':6}    {theirs:10,.0f} rows/s  "
                f"(timed over {min(args.baseline_rows, args.rows):,} rows)"
            )
            print(f"ratio:              {ours / theirs:.1f}x")
            print(f"peak RSS growth:    {rss_growth:.1f} MB")
            verdict = [
                ("rows/s >= 25,000", ours >= 25_000),
                ("ratio >= 20x", ours / theirs >= 20),
                ("peak RSS growth <= 64 MB", rss_growth <= 64),
            ]
            print(f"line parser:        {_json_parser()}")
            print(load_note())
            print("targets: " + ", ".join(f"{n}: {'met' if ok else 'MISSED'}" for n, ok in verdict))


if __name__ == "__main__":
    asyncio.run(main())
