"""The real openai.AsyncOpenAI drives the simulator, in-process and over loopback."""

from __future__ import annotations

import json

import openai
import pytest

from batchmon.sim import Simulator, predicted_tags
from tests.fixtures.sim import LiveSim

from .helpers import CHAT, image_url, tagging_file


async def run_scenario(client: openai.AsyncOpenAI, sim: Simulator) -> None:
    uploaded = await client.files.create(file=("tags.jsonl", tagging_file(8)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(tagging_file(8))
    ids = []
    for i in range(5):
        batch = await client.batches.create(
            input_file_id=uploaded.id,
            endpoint=CHAT,
            completion_window="24h",
            metadata={"run": str(i)},
        )
        ids.append(batch.id)

    seen = [batch.id async for batch in client.batches.list(limit=2)]
    assert seen == ids[::-1]  # newest first, across three pages
    first_page = await client.batches.list(limit=2)
    assert first_page.has_more is True and len(first_page.data) == 2

    sim.advance(3600)
    done = await client.batches.retrieve(ids[0])
    assert done.status == "completed" and done.output_file_id is not None
    assert done.metadata == {"run": "0"}

    tags = {}
    async with client.files.with_streaming_response.content(done.output_file_id) as response:
        async for raw in response.iter_lines():
            line = json.loads(raw)
            content = line["response"]["body"]["choices"][0]["message"]["content"]
            tags[line["custom_id"]] = json.loads(content)["tags"]
    assert tags == {f"asset-{i}": predicted_tags(image_url(i)) for i in range(8)}

    files = [f.id async for f in client.files.list(purpose="batch")]
    assert files == [uploaded.id]
    info = await client.files.retrieve(done.output_file_id)
    assert info.purpose == "batch_output"
    deleted = await client.files.delete(uploaded.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(uploaded.id)


async def test_sdk_in_process(client: openai.AsyncOpenAI, simulator: Simulator) -> None:
    await run_scenario(client, simulator)


async def test_sdk_over_loopback(live_client: openai.AsyncOpenAI, live_sim: LiveSim) -> None:
    assert live_sim.base_url.startswith("http://127.0.0.1:")
    await run_scenario(live_client, live_sim.simulator)


async def test_large_output_streams_in_chunks_over_loopback(
    live_client: openai.AsyncOpenAI, live_sim: LiveSim
) -> None:
    uploaded = await live_client.files.create(
        file=("big.jsonl", tagging_file(400)), purpose="batch"
    )
    batch = await live_client.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
    )
    live_sim.simulator.advance(3600)
    batch = await live_client.batches.retrieve(batch.id)
    assert batch.output_file_id is not None
    chunks = 0
    size = 0
    async with live_client.files.with_streaming_response.content(batch.output_file_id) as resp:
        async for chunk in resp.iter_bytes():
            chunks += 1
            size += len(chunk)
    assert size == len(live_sim.simulator.file_content(batch.output_file_id)) > 64 * 1024
    assert chunks > 1
