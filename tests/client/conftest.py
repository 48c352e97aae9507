"""BatchClient fixtures: the real client against the simulator, in-process or over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from batchmon.core.requests import build_tag_request, to_jsonl
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY, LiveSim

ENDPOINT = "/v1/chat/completions"


@pytest.fixture
async def sim_client(asgi_http_client: httpx2.AsyncClient) -> AsyncIterator[BatchClient]:
    """A BatchClient reaching the simulator in-process (SDK retries on, as in production)."""
    client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=asgi_http_client
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def live_client(live_sim: LiveSim) -> AsyncIterator[BatchClient]:
    """A BatchClient with its own HTTP client, talking to uvicorn on 127.0.0.1."""
    client = BatchClient(api_key=live_sim.api_key, base_url=live_sim.base_url)
    try:
        yield client
    finally:
        await client.aclose()


def input_jsonl(count: int, *, prefix: str = "asset") -> bytes:
    """A valid batch input file of `count` image-tagging requests."""
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
    """Create batches directly in the simulator (no HTTP): ids oldest first."""
    file_id = simulator.upload_file(input_jsonl(requests_each), "in.jsonl", "batch")["id"]
    ids = []
    for _ in range(count):
        if seconds_apart:
            simulator.advance(seconds_apart)
        body = simulator.create_batch(input_file_id=file_id, endpoint=ENDPOINT, metadata=metadata)
        ids.append(body["id"])
    return ids
