"""Input files that are missing or gone fail the batch later; files expire like OpenAI's.

The late failure as recorded against OpenAI in llama-stack's batch integration tests
(test_batch_nonexistent_file_id): `BatchError(code='invalid_request', line=None,
message='Cannot find file ..., or organization ... does not have access to it.',
param='file_id')`.

OpenAI's 404 for a file, as openai-dotnet's API-reference tests record it
(FileDocs.RetrieveFile): "HTTP 404 (invalid_request_error: ) Parameter: id  No such File
object: file-abc123". Expiry follows the reference's FileExpirationAfter and
BatchFileExpirationAfter: batch files 30 days by default, `created_at` anchor,
3600..2592000 seconds.
"""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.types import Batch

from batchmon.sim import Simulator
from tests.fixtures.sim import SIM_API_KEY

from .helpers import CHAT, batch_errors, run_to_end, tagging_file

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}
DAY = 24 * 3600


async def create(client: openai.AsyncOpenAI, file_id: str) -> Batch:
    return await client.batches.create(
        input_file_id=file_id, endpoint=CHAT, completion_window="24h"
    )


def assert_missing_file_failure(batch: Batch, file_id: str) -> None:
    assert batch.status == "failed"
    (error,) = batch_errors(batch)
    assert (error.code, error.param, error.line) == ("invalid_request", "file_id", None)
    assert error.message == (
        f"Cannot find file {file_id}, or organization org-simulated does not have access to it."
    )


async def test_a_create_naming_a_missing_file_is_accepted_and_fails_later(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = await create(client, "file-nope")
    assert batch.status == "validating"
    simulator.advance(5)
    assert_missing_file_failure(await client.batches.retrieve(batch.id), "file-nope")


async def test_an_input_file_deleted_after_create_fails_the_batch(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", tagging_file(3)), purpose="batch")
    batch = await create(client, uploaded.id)
    simulator.advance(2)
    assert (await client.files.delete(uploaded.id)).deleted
    simulator.advance(3)
    assert_missing_file_failure(await client.batches.retrieve(batch.id), uploaded.id)


async def test_deleting_the_input_once_validated_changes_nothing(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", tagging_file(3)), purpose="batch")
    batch = await create(client, uploaded.id)
    simulator.advance(10)  # validated and in progress, though nobody looked
    await client.files.delete(uploaded.id)
    simulator.advance(3600)
    assert (await client.batches.retrieve(batch.id)).status == "completed"


async def test_expired_files_answer_openais_404(
    asgi_http_client: httpx2.AsyncClient, client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", tagging_file(2)), purpose="batch")
    assert uploaded.expires_at == uploaded.created_at + 30 * DAY
    simulator.advance(30 * DAY - 1)
    assert (await client.files.retrieve(uploaded.id)).id == uploaded.id
    simulator.advance(1)
    for path in (f"/v1/files/{uploaded.id}", f"/v1/files/{uploaded.id}/content"):
        response = await asgi_http_client.get(path, headers=AUTH)
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "message": f"No such File object: {uploaded.id}",
                "type": "invalid_request_error",
                "param": "id",
                "code": None,
            }
        }
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(uploaded.id)
    assert [f.id for f in (await client.files.list()).data] == []
    batch = await create(client, uploaded.id)  # accepted, then fails like a missing file
    simulator.advance(5)
    assert_missing_file_failure(await client.batches.retrieve(batch.id), uploaded.id)


async def test_expires_after_shortens_an_uploads_life(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    uploaded = await client.files.create(
        file=("in.jsonl", tagging_file(2)),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert uploaded.expires_at == uploaded.created_at + 3600
    simulator.advance(3600)
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(uploaded.id)


async def test_output_files_expire_30_days_after_completion_by_default(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    batch = run_to_end(simulator, tagging_file(4), metadata={"sim_fail_fraction": "0.5"})
    assert batch.status == "completed" and batch.completed_at is not None
    for file_id in (batch.output_file_id, batch.error_file_id):
        assert file_id is not None
        file = await client.files.retrieve(file_id)
        assert file.created_at == batch.completed_at
        assert file.expires_at == batch.completed_at + 30 * DAY
    simulator.advance(batch.completed_at + 30 * DAY - simulator.now())
    with pytest.raises(openai.NotFoundError):
        await client.files.content(batch.output_file_id or "")


async def test_output_expires_after_sets_the_results_lifetime(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    uploaded = await client.files.create(file=("in.jsonl", tagging_file(2)), purpose="batch")
    created = await client.batches.create(
        input_file_id=uploaded.id,
        endpoint=CHAT,
        completion_window="24h",
        metadata={"sim_duration": "10"},
        output_expires_after={"anchor": "created_at", "seconds": 7200},
    )
    simulator.advance(60)
    batch = await client.batches.retrieve(created.id)
    assert batch.status == "completed" and batch.output_file_id and batch.completed_at
    output = await client.files.retrieve(batch.output_file_id)
    assert output.expires_at == batch.completed_at + 7200
    simulator.advance(7200)
    with pytest.raises(openai.NotFoundError):
        await client.files.content(batch.output_file_id)


@pytest.mark.parametrize(
    ("policy", "param"),
    [
        ({"anchor": "last_active_at", "seconds": 3600}, "output_expires_after.anchor"),
        ({"anchor": "created_at", "seconds": 60}, "output_expires_after.seconds"),
        ({"anchor": "created_at", "seconds": 31 * DAY}, "output_expires_after.seconds"),
    ],
)
async def test_impossible_expiry_policies_are_refused(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator, policy: object, param: str
) -> None:
    file_id = simulator.upload_file(tagging_file(1), "in.jsonl", "batch")["id"]
    body = {
        "input_file_id": file_id,
        "endpoint": CHAT,
        "completion_window": "24h",
        "output_expires_after": policy,
    }
    response = await asgi_http_client.post("/v1/batches", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
