"""Batches move through OpenAI's states on the simulator's clock, with OpenAI's files."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types import Batch
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from batchmon.sim import Simulator, predicted_tags
from tests.fixtures.sim import SIM_API_KEY

from .helpers import (
    CHAT,
    MODEL,
    RESPONSES,
    image_url,
    read_lines,
    tagging_file,
    upload_and_create,
)

N = 20


async def create(
    client: openai.AsyncOpenAI,
    data: bytes,
    *,
    endpoint: str = CHAT,
    metadata: dict[str, str] | None = None,
) -> Batch:
    uploaded = await client.files.create(file=("input.jsonl", data), purpose="batch")
    return await client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        metadata=metadata,
    )


async def completed(
    client: openai.AsyncOpenAI, simulator: Simulator, data: bytes, **create_args: Any
) -> Batch:
    """A batch created from ``data`` and run to its end: an hour on the simulator's clock."""
    batch = await create(client, data, **create_args)
    simulator.advance(3600)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "completed"
    return batch


def expected_tags(custom_id: str) -> list[str]:
    return predicted_tags(image_url(int(custom_id.removeprefix("asset-"))))


async def test_a_batch_runs_validating_to_completed_with_every_timestamp(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(N), metadata={"sim_duration": "100"})
    assert batch.status == "validating"
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert batch.request_counts is not None and batch.request_counts.total == 0

    simulator.advance(5)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "in_progress"
    assert batch.in_progress_at == batch.created_at + 5
    assert batch.model == "gpt-4o-mini-2024-07-18"  # the snapshot; the lines say gpt-4o-mini
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (N, 0)

    simulator.advance(50)
    batch = await client.batches.retrieve(batch.id)
    assert batch.request_counts is not None and batch.request_counts.completed == N // 2
    assert batch.usage is not None and batch.usage.total_tokens > 0
    half_usage = batch.usage.total_tokens

    simulator.advance(50)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "finalizing"
    assert batch.finalizing_at == batch.created_at + 105
    assert batch.output_file_id is None

    simulator.advance(5)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.completed_at == batch.created_at + 110
    assert batch.request_counts == openai.types.BatchRequestCounts(total=N, completed=N, failed=0)
    assert batch.usage is not None and batch.usage.total_tokens > half_usage
    assert batch.error_file_id is None
    assert batch.output_file_id is not None

    lines = read_lines(simulator, batch.output_file_id)
    assert [line["custom_id"] for line in lines] != [f"asset-{i}" for i in range(N)]
    assert sorted(line["custom_id"] for line in lines) == sorted(f"asset-{i}" for i in range(N))
    for line in lines:
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        completion = ChatCompletion.model_validate(line["response"]["body"])
        content = completion.choices[0].message.content
        assert content is not None
        assert json.loads(content) == {"tags": expected_tags(line["custom_id"])}
    total_tokens = sum(line["response"]["body"]["usage"]["total_tokens"] for line in lines)
    assert batch.usage.total_tokens == total_tokens


async def test_responses_endpoint_answers_with_response_objects(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(
        client, simulator, tagging_file(3, endpoint=RESPONSES), endpoint=RESPONSES
    )
    for line in read_lines(simulator, batch.output_file_id):
        response = Response.model_validate(line["response"]["body"])
        assert json.loads(response.output_text) == {"tags": expected_tags(line["custom_id"])}


async def test_a_scripted_share_of_requests_fails_into_the_error_file(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(
        client, simulator, tagging_file(N), metadata={"sim_fail_fraction": "0.25"}
    )
    assert batch.request_counts is not None
    failed = {line["custom_id"] for line in read_lines(simulator, batch.error_file_id)}
    ok = {line["custom_id"] for line in read_lines(simulator, batch.output_file_id)}
    assert failed and ok and not failed & ok
    assert len(failed | ok) == N
    assert batch.request_counts.failed == len(failed)
    assert batch.request_counts.completed == len(ok)
    for line in read_lines(simulator, batch.error_file_id):
        assert line["response"]["status_code"] == 400
        assert line["response"]["body"]["error"]["code"] == "invalid_image_url"


async def test_a_batch_where_every_request_failed_has_only_an_error_file(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(client, simulator, tagging_file(4), metadata={"sim_fail_fraction": "1"})
    assert batch.output_file_id is None
    assert batch.error_file_id is not None
    assert len(read_lines(simulator, batch.error_file_id)) == 4


async def test_a_batch_can_report_an_empty_error_file_id(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(
        client, simulator, tagging_file(2), metadata={"sim_empty_error_file_id": "1"}
    )
    assert batch.error_file_id == ""


async def test_an_expiring_batch_expires_with_partial_output_and_expired_lines(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(N), metadata={"sim_expire": "1"})
    simulator.advance(12 * 3600)
    mid = await client.batches.retrieve(batch.id)
    assert mid.status == "in_progress"
    assert mid.request_counts is not None and mid.request_counts.completed == N // 2
    simulator.advance(12 * 3600)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "expired"
    assert batch.expired_at == batch.expires_at
    assert batch.finalizing_at is None
    done = {line["custom_id"] for line in read_lines(simulator, batch.output_file_id)}
    expired = read_lines(simulator, batch.error_file_id)
    assert len(done) == N // 2
    assert len(expired) == N - N // 2
    assert {line["error"]["code"] for line in expired} == {"batch_expired"}
    assert all(line["response"] is None for line in expired)
    assert done.isdisjoint(line["custom_id"] for line in expired)


async def test_a_batch_slower_than_its_window_expires(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(10), metadata={"sim_duration": str(48 * 3600)})
    simulator.advance(24 * 3600)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "expired"
    assert batch.request_counts is not None and batch.request_counts.completed == 4


async def test_cancel_goes_through_cancelling_to_cancelled_with_partial_output(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(N), metadata={"sim_duration": "100"})
    simulator.advance(5 + 25)
    batch = await client.batches.cancel(batch.id)
    assert batch.status == "cancelling"
    assert batch.cancelling_at == batch.created_at + 30
    again = await client.batches.cancel(batch.id)
    assert again.status == "cancelling" and again.cancelling_at == batch.cancelling_at
    simulator.advance(100)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "cancelled"
    assert batch.cancelled_at == batch.created_at + 35
    assert batch.request_counts is not None and batch.request_counts.completed == 5
    assert len(read_lines(simulator, batch.output_file_id)) == 5
    rest = read_lines(simulator, batch.error_file_id)
    assert len(rest) == N - 5
    assert {line["error"]["code"] for line in rest} == {"batch_cancelled"}


async def test_cancelling_a_finished_batch_is_a_conflict(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(2))
    simulator.advance(3600)
    with pytest.raises(openai.ConflictError) as raised:
        await client.batches.cancel(batch.id)
    assert "completed" in raised.value.message
    assert (await client.batches.retrieve(batch.id)).status == "completed"


async def test_cancelling_a_cancelled_batch_answers_the_batch(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    """OpenAI answers 200 with the batch; a 409 here would make the SDK retry it twice."""
    batch = await create(client, tagging_file(2))
    await client.batches.cancel(batch.id)
    simulator.advance(3600)
    again = await client.batches.cancel(batch.id)
    assert again.status == "cancelled" and again.cancelled_at is not None
    assert again == await client.batches.retrieve(batch.id)


async def test_the_time_in_cancelling_is_configurable(
    asgi_http_client: httpx2.AsyncClient, client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    """OpenAI can take up to 10 minutes to cancel; tests choose how long."""
    auth = {"Authorization": f"Bearer {SIM_API_KEY}"}
    answer = await asgi_http_client.post(
        "/_sim/config", json={"cancelling_seconds": 600}, headers=auth
    )
    assert answer.status_code == 200 and answer.json()["timing"]["cancelling"] == 600
    batch = await create(client, tagging_file(2))
    batch = await client.batches.cancel(batch.id)
    simulator.advance(599)
    assert (await client.batches.retrieve(batch.id)).status == "cancelling"
    simulator.advance(1)
    cancelled = await client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == (batch.cancelling_at or 0) + 600
    refused = await asgi_http_client.post(
        "/_sim/config", json={"cancelling_seconds": -1}, headers=auth
    )
    assert refused.status_code == 400


async def test_cancelling_a_failed_batch_is_a_conflict(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(2), metadata={"sim_fail_validation": "1"})
    simulator.advance(5)
    with pytest.raises(openai.ConflictError):
        await client.batches.cancel(batch.id)


async def test_answers_name_the_snapshot_the_lines_did_not(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(client, simulator, tagging_file(3), metadata={"sim_duration": "0"})
    assert batch.model == "gpt-4o-mini-2024-07-18"
    lines = read_lines(simulator, batch.output_file_id)
    assert {line["response"]["body"]["model"] for line in lines} == {"gpt-4o-mini-2024-07-18"}
    inputs = [json.loads(raw) for raw in tagging_file(3).splitlines()]
    assert {line["body"]["model"] for line in inputs} == {MODEL}


async def test_a_stalled_batch_stays_finalizing_until_released(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, tagging_file(3), metadata={"sim_stall_finalizing": "1"})
    simulator.advance(6 * 3600)
    batch = await client.batches.retrieve(batch.id)
    assert batch.status == "finalizing"
    released = simulator.script_batch(batch.id, {"stall_finalizing": False})
    assert released["status"] == "completed"
    assert released["completed_at"] == int(simulator.now())


async def test_a_stalled_batch_expires_at_the_window(simulator: Simulator) -> None:
    batch_id = upload_and_create(simulator, tagging_file(3), metadata={"sim_stall_finalizing": "1"})
    simulator.advance(24 * 3600)
    batch = simulator.batch(batch_id)
    assert batch.status == "expired"
    assert batch.request_counts is not None and batch.request_counts.completed == 3
    assert len(read_lines(simulator, batch.output_file_id)) == 3


async def test_rescripting_duration_mid_flight_keeps_history(simulator: Simulator) -> None:
    batch_id = upload_and_create(simulator, tagging_file(10), metadata={"sim_duration": "1000"})
    simulator.advance(5 + 500)
    assert simulator.batch(batch_id).request_counts.completed == 5  # type: ignore[union-attr]
    simulator.script_batch(batch_id, {"duration": 10})  # now 1 request/second
    simulator.advance(2)
    assert simulator.batch(batch_id).request_counts.completed == 7  # type: ignore[union-attr]
    simulator.advance(3)
    batch = simulator.batch(batch_id)
    assert batch.status == "finalizing"
    assert batch.finalizing_at == batch.created_at + 5 + 500 + 5


async def test_listeners_hear_each_state_once(simulator: Simulator) -> None:
    heard: list[str] = []
    simulator.add_listener(lambda batch, status: heard.append(status))
    batch_id = upload_and_create(simulator, tagging_file(2))
    simulator.advance(3600)
    simulator.sweep()
    simulator.get_batch(batch_id)
    assert heard == ["validating", "in_progress", "finalizing", "completed"]


async def test_a_scripted_rate_limit_writes_openais_429_lines(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await completed(
        client,
        simulator,
        tagging_file(4),
        metadata={"sim_fail_fraction": "1", "sim_fail_code": "rate_limit_exceeded"},
    )
    assert batch.error_file_id
    lines = read_lines(simulator, batch.error_file_id)
    assert len(lines) == 4
    for line in lines:
        assert line["response"]["status_code"] == 429
        assert line["response"]["body"]["error"]["code"] == "rate_limit_exceeded"


async def test_an_unknown_failure_code_is_refused_at_create(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    with pytest.raises(openai.BadRequestError, match="sim_fail_code"):
        await create(client, tagging_file(1), metadata={"sim_fail_code": "teapot"})
