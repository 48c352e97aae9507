"""Files: upload, existence, and output streamed line by line, never whole."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette

from batchmon.openai_batches import (
    ApiUnreachable,
    BatchClient,
    BatchNotFound,
    FileDownloadIncomplete,
    FileNotFound,
)
from batchmon.sim import FaultConfig, Simulator, predicted_tags
from tests.fixtures.sim import ASGI_BASE_URL, LiveSim
from tests.helpers.clients import sim_batch_client
from tests.helpers.requests import ENDPOINT, input_jsonl


def output_like_lines(count: int) -> list[bytes]:
    """Lines shaped like batch output (about 400 bytes each), cheap to build."""
    template = {
        "id": "batch_req_0",
        "custom_id": "",
        "response": {
            "status_code": 200,
            "request_id": "req_0",
            "body": {"choices": [{"message": {"content": '{"tags": ["cat", "sofa"]}'}}]},
        },
        "error": None,
        "padding": "x" * 200,
    }
    lines = []
    for i in range(count):
        template["custom_id"] = f"asset-{i}"
        lines.append(json.dumps(template).encode())
    return lines


async def collect(lines: AsyncIterator[bytes]) -> list[bytes]:
    return [line async for line in lines]


async def test_upload_then_read_back_exact_lines(sim_client: BatchClient) -> None:
    odd = json.dumps({"custom_id": "a", "text": "one\u2028two\x1cthree"}, ensure_ascii=False)
    data = b'{"custom_id": "first"}\r\n' + odd.encode() + b'\n{"custom_id": "last"}'

    uploaded = await sim_client.upload_jsonl(data, filename="requests.jsonl")

    assert uploaded.purpose == "batch" and uploaded.bytes == len(data)
    assert await sim_client.file_exists(uploaded.id)
    lines = await collect(sim_client.iter_output_lines(uploaded.id))
    assert lines == [b'{"custom_id": "first"}', odd.encode(), b'{"custom_id": "last"}']


async def test_missing_files(sim_client: BatchClient) -> None:
    assert not await sim_client.file_exists("file-nope")
    assert not await sim_client.file_exists("")  # OpenAI reports error_file_id "" at times
    with pytest.raises(FileNotFound) as caught:
        await collect(sim_client.iter_output_lines("file-nope"))
    assert isinstance(caught.value, BatchNotFound)
    assert "expired" in caught.value.hint


async def test_a_real_batch_output_streams_every_result(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    uploaded = await sim_client.upload_jsonl(input_jsonl(50))
    batch = await sim_client.create_batch(
        input_file_id=uploaded.id, endpoint=ENDPOINT, metadata={"sim_duration": "10"}
    )
    simulator.advance(3600)
    done = await sim_client.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id

    tags: dict[str, list[str]] = {}
    async for raw in sim_client.iter_output_lines(done.output_file_id):
        line = json.loads(raw)
        content = line["response"]["body"]["choices"][0]["message"]["content"]
        tags[line["custom_id"]] = json.loads(content)["tags"]

    assert tags == {
        f"asset-{i}": predicted_tags(f"https://img.example/asset/{i}.jpg") for i in range(50)
    }


async def test_a_large_file_streams_without_being_held_in_memory(
    simulator: Simulator, live_client: BatchClient
) -> None:
    lines = output_like_lines(20_000)
    data = b"\n".join(lines) + b"\n"
    file_id = simulator.upload_file(data, "big.jsonl", "batch")["id"]
    del lines

    count = 0
    first: bytes | None = None
    tracemalloc.start()
    try:
        async for line in live_client.iter_output_lines(file_id):
            first = first or line
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000
    assert first is not None and json.loads(first)["custom_id"] == "asset-0"
    assert len(data) > 8_000_000
    assert peak < len(data) / 8, f"peak {peak} bytes while streaming {len(data)} bytes"


async def test_a_download_cut_off_on_the_wire_raises_and_yields_only_whole_lines(
    live_sim: LiveSim, live_client: BatchClient
) -> None:
    data = b"\n".join(output_like_lines(2_000)) + b"\n"
    file_id = live_sim.simulator.upload_file(data, "out.jsonl", "batch")["id"]
    live_sim.simulator.faults.configure(FaultConfig(truncate_rate=1.0))

    received: list[bytes] = []
    with pytest.raises(FileDownloadIncomplete) as caught:
        async for line in live_client.iter_output_lines(file_id):
            received.append(line)

    assert isinstance(caught.value, ApiUnreachable)
    assert 0 < len(received) < 2_000
    assert all(json.loads(line)["custom_id"] for line in received)  # no partial line
    assert "nothing partial" in caught.value.hint


async def test_a_body_shorter_than_its_content_length_raises(
    simulator: Simulator, sim_app: Starlette
) -> None:
    # In-process the transport does not check Content-Length: the client must.
    data = b"\n".join(output_like_lines(500))  # no final newline: the cut line must not leak
    file_id = simulator.upload_file(data, "out.jsonl", "batch")["id"]
    simulator.faults.configure(FaultConfig(truncate_rate=1.0))
    transport = httpx2.ASGITransport(app=sim_app, raise_app_exceptions=False)
    async with (
        httpx2.AsyncClient(transport=transport, base_url=ASGI_BASE_URL) as http,
        sim_batch_client(http) as client,
    ):
        received: list[bytes] = []
        with pytest.raises(FileDownloadIncomplete, match=f"of {len(data)} bytes"):
            async for line in client.iter_output_lines(file_id):
                received.append(line)

    assert all(json.loads(line) for line in received)
    assert len(received) < 500
