"""Plan 250,000 image-tagging requests into batches: batchmon's planner vs a fixed-count split.

    .venv/bin/python benchmarks/bench_plan.py [--assets 250000] [--token-limit 2000000]

batchmon streams the request lines through ``core.planner`` (each line's exact upload
bytes, its estimated queue tokens, its model and endpoint) and hands out each batch's
JSONL as soon as the batch is full; the plan-only pass (what a confirmation shows) keeps
no JSONL. The baseline is what the small tools do: build every line, cut them into
50,000-line files with ``json.dumps`` per line, and ignore the token limit, so the run
also counts how many of its batches OpenAI would refuse with ``token_limit_exceeded``
(any whose estimated tokens pass the model's limit).

Time is measured in a run without tracing, peak memory (tracemalloc, Python allocations
only) in a second one. Targets: every batch inside 50,000 requests, 200 MB and the token
budget; peak memory of the streamed plan at most a quarter of the baseline's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from _support import load_note

from batchmon.core.planner import (
    PlanLimits,
    PlannedBatch,
    TokenEstimator,
    plan_batches,
    summarize,
)
from batchmon.core.requests import DEFAULT_MODEL, build_tag_request
from batchmon.core.tokens import request_tokens

BASELINE_PER_BATCH = 50_000


def request_lines(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield build_tag_request(
            f"0b6f{n:08d}-8d1e-4c55-9a3e-5f1e2d3c4b5a",
            f"https://img.example.test/photos/{n}-lake.jpg",
        )


def streamed(
    count: int, limits: PlanLimits, keep_lines: bool, estimate: TokenEstimator
) -> dict[str, Any]:
    """batchmon: batches handed out one by one, each let go once 'uploaded' (counted)."""
    budget = limits.token_budget(DEFAULT_MODEL)
    seen = {"biggest_bytes": 0, "most_requests": 0, "most_tokens": 0, "over_budget": 0}

    def uploaded(batches: Iterator[PlannedBatch]) -> Iterator[PlannedBatch]:
        for batch in batches:
            seen["biggest_bytes"] = max(seen["biggest_bytes"], batch.byte_size)
            seen["most_requests"] = max(seen["most_requests"], batch.request_count)
            seen["most_tokens"] = max(seen["most_tokens"], batch.estimated_tokens)
            seen["over_budget"] += bool(budget and batch.estimated_tokens > budget)
            yield batch

    lines = request_lines(count)
    plan = summarize(
        uploaded(plan_batches(lines, limits, keep_lines=keep_lines, estimate=estimate))
    )
    return {
        "batches": plan.batches,
        "requests": plan.requests,
        **seen,
        "batch_usd": round(plan.batch_usd or 0, 2),
        "saving_usd": round(plan.saving_usd or 0, 2),
    }


def baseline(count: int) -> dict[str, Any]:
    """Every line in memory, fixed-size files, no idea of the queue."""
    lines = list(request_lines(count))
    files = []
    for start in range(0, len(lines), BASELINE_PER_BATCH):
        chunk = lines[start : start + BASELINE_PER_BATCH]
        files.append(b"".join(json.dumps(line).encode() + b"\n" for line in chunk))
    return {"batches": len(files), "biggest_bytes": max(len(f) for f in files)}


def refused_by_baseline(count: int, limit: int, estimate: TokenEstimator) -> int:
    """Baseline files whose estimated tokens alone pass the limit (not timed)."""
    refused = tokens = 0
    for n, line in enumerate(request_lines(count), start=1):
        tokens += estimate(line["body"], line["url"])
        if n % BASELINE_PER_BATCH == 0 or n == count:
            refused += tokens > limit
            tokens = 0
    return refused


def timed(run: Callable[[], dict[str, Any]], repeat: int) -> tuple[dict[str, Any], float]:
    """The result and the best of ``repeat`` wall-clock times (the host is shared)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return result, best


def peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assets", type=int, default=250_000)
    parser.add_argument("--token-limit", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="time the best of N runs")
    parser.add_argument(
        "--image-size", default=None, help="WxH of every image (default: unknown, costliest)"
    )
    args = parser.parse_args()
    size = tuple(int(side) for side in args.image_size.split("x")) if args.image_size else None

    def estimate(body: Mapping[str, Any], endpoint: str) -> int:
        return request_tokens(body, endpoint, image_size=size)  # type: ignore[arg-type]

    limits = PlanLimits(token_limits={DEFAULT_MODEL: args.token_limit})
    count = args.assets

    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "planner, JSONL per batch": lambda: streamed(count, limits, True, estimate),
        "planner, plan only": lambda: streamed(count, limits, False, estimate),
        "baseline, fixed 50,000": lambda: baseline(count),
    }
    images = args.image_size or "unknown image sizes"
    print(f"{count:,} assets, {DEFAULT_MODEL}, {images}, token limit {args.token_limit:,}")
    print(load_note())
    figures = {}
    for name, run in runs.items():
        result, seconds = timed(run, args.repeat)
        figures[name] = (result, seconds, peak_mb(run))
    base_result, base_s, base_mb = figures["baseline, fixed 50,000"]
    for name, (result, seconds, mb) in figures.items():
        print(
            f"{name:26s} {seconds:6.2f} s ({base_s / seconds:4.2f}x baseline speed)  "
            f"peak {mb:8.2f} MB ({mb / base_mb:6.4f} of baseline)  {result}"
        )
    refused = refused_by_baseline(count, args.token_limit, estimate)
    files = base_result["batches"]
    print(f"baseline files OpenAI would refuse for the token limit: {refused} of {files}")
    planned = figures["planner, JSONL per batch"][0]
    ok = (
        planned["requests"] == count
        and planned["most_requests"] <= 50_000
        and planned["biggest_bytes"] <= 200_000_000
        and planned["over_budget"] == 0
        and figures["planner, JSONL per batch"][2] <= base_mb / 4
    )
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
