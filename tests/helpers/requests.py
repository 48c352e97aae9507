"""Batch input files and batches made directly in the simulator (no HTTP)."""

from __future__ import annotations

from batchmon.core.requests import build_tag_request, to_jsonl
from batchmon.sim import Simulator

ENDPOINT = "/v1/chat/completions"


def input_jsonl(count: int, *, prefix: str = "asset") -> bytes:
    """A valid batch input file of ``count`` image-tagging requests."""
    return to_jsonl(
        build_tag_request(f"{prefix}-{i}", f"https://img.example/{prefix}/{i}.jpg")
        for i in range(count)
    )


def make_batches(
    simulator: Simulator,
    count: int,
    *,
    requests_each: int = 1,
    metadata: dict[str, str] | None = None,
    seconds_apart: float = 0.0,
) -> list[str]:
    """Create batches directly in the simulator: ids oldest first."""
    file_id = simulator.upload_file(input_jsonl(requests_each), "in.jsonl", "batch")["id"]
    ids = []
    for _ in range(count):
        if seconds_apart:
            simulator.advance(seconds_apart)
        body = simulator.create_batch(input_file_id=file_id, endpoint=ENDPOINT, metadata=metadata)
        ids.append(body["id"])
    return ids
