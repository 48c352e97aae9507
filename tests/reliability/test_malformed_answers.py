"""Answers that are not the API's: each becomes one typed error naming the request.

The real client talks over a socket to the simulator behind :mod:`misbehaving_api`.
"""

from __future__ import annotations

import pytest

from batchmon.openai_batches import BatchClient, BatchNotFound, MalformedResponse, RateLimited
from batchmon.sim import Simulator
from tests.reliability.misbehaving_api import Kind, LiveMisbehavingApi

BATCH_PATH = r"GET /v1/batches/batch_"


async def _one_batch(client: BatchClient, simulator: Simulator) -> str:
    line = (
        b'{"custom_id": "a1", "method": "POST", "url": "/v1/chat/completions", '
        b'"body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}\n'
    )
    uploaded = await client.upload_jsonl(line)
    batch = await client.create_batch(input_file_id=uploaded.id, endpoint="/v1/chat/completions")
    simulator.advance(3600)
    return batch.id


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("html", "retrieve batch batch_"),
        ("broken_json", "was not the API's JSON"),
        ("wrong_shape", "was not a batch (a batch without an id)"),
        ("empty", "retrieve batch batch_"),
    ],
)
async def test_a_malformed_retrieve_answer_is_a_malformed_response(
    kind: Kind,
    message: str,
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
) -> None:
    batch_id = await _one_batch(misbehaving_client, misbehaving_api.simulator)
    misbehaving_api.api.add(kind, BATCH_PATH)

    with pytest.raises(MalformedResponse) as caught:
        await misbehaving_client.retrieve(batch_id)

    assert message in str(caught.value)
    assert caught.value.hint.startswith("Something between batchmon and OpenAI answered")
    assert (await misbehaving_client.retrieve(batch_id)).id == batch_id  # the next one is fine


@pytest.mark.parametrize("kind", ["html", "broken_json", "wrong_shape", "empty"])
async def test_a_malformed_list_page_is_a_malformed_response(
    kind: Kind, misbehaving_api: LiveMisbehavingApi, misbehaving_client: BatchClient
) -> None:
    batch_id = await _one_batch(misbehaving_client, misbehaving_api.simulator)
    misbehaving_api.api.add(kind, r"GET /v1/batches$")

    with pytest.raises(MalformedResponse, match=r"^list batches: "):
        await misbehaving_client.statuses([batch_id])

    assert batch_id in (await misbehaving_client.statuses([batch_id])).batches


async def test_an_html_download_is_refused_before_any_line(
    misbehaving_api: LiveMisbehavingApi, misbehaving_client: BatchClient
) -> None:
    batch_id = await _one_batch(misbehaving_client, misbehaving_api.simulator)
    batch = await misbehaving_client.retrieve(batch_id)
    assert batch.output_file_id
    misbehaving_api.api.add("html", r"GET /v1/files/.*/content")

    lines = []
    with pytest.raises(MalformedResponse, match="an HTML page"):
        async for line in misbehaving_client.iter_output_lines(batch.output_file_id):
            lines.append(line)
    assert lines == []


async def test_a_vanished_batch_and_a_long_retry_after_keep_their_meaning(
    misbehaving_api: LiveMisbehavingApi, misbehaving_client: BatchClient
) -> None:
    batch_id = await _one_batch(misbehaving_client, misbehaving_api.simulator)
    misbehaving_api.api.add("not_found", BATCH_PATH)
    misbehaving_api.api.add("rate_limited", BATCH_PATH, retry_after=120)

    with pytest.raises(BatchNotFound):
        await misbehaving_client.retrieve(batch_id)
    with pytest.raises(RateLimited) as limited:
        await misbehaving_client.retrieve(batch_id)
    assert limited.value.retry_after == 120
