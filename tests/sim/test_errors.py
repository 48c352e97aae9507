"""Bad requests get OpenAI's error statuses and bodies, never a 500 of the simulator's own."""

from __future__ import annotations

import httpx2
import openai
import pytest

from batchmon.sim import Simulator
from tests.fixtures.sim import SIM_API_KEY, LiveSim

from .helpers import CHAT, tagging_file, upload_and_create

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}


def assert_openai_error(response: httpx2.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "param"),
    [
        ("GET", "/v1/batches/batch_nope", {}, 404, "batch_id"),
        ("POST", "/v1/batches/batch_nope/cancel", {}, 404, "batch_id"),
        ("GET", "/v1/files/file-nope", {}, 404, "id"),
        ("GET", "/v1/files/file-nope/content", {}, 404, "id"),
        ("DELETE", "/v1/files/file-nope", {}, 404, "id"),
        ("GET", "/v1/batches?limit=0", {}, 400, "limit"),
        ("GET", "/v1/batches?limit=101", {}, 400, "limit"),
        ("GET", "/v1/batches?limit=ten", {}, 400, "limit"),
        ("GET", "/v1/batches?after=batch_nope", {}, 400, "after"),
        ("GET", "/v1/files?order=sideways", {}, 400, "order"),
        ("POST", "/v1/files", {"content": b"not multipart"}, 400, None),
        (
            "POST",
            "/v1/files",
            {"headers": {"content-type": "multipart/form-data; boundary=x"}, "content": b"--x\r\n"},
            400,
            None,
        ),
        ("POST", "/v1/files", {"data": {"purpose": "batch"}, "files": {}}, 400, None),
        ("POST", "/v1/files", {"files": {"file": ("a.jsonl", b"{}")}}, 400, "purpose"),
        (
            "POST",
            "/v1/files",
            {"files": {"file": ("a.csv", b"x")}, "data": {"purpose": "batch"}},
            400,
            "file",
        ),
        (
            "POST",
            "/v1/files",
            {"files": {"file": ("a.jsonl", b"x")}, "data": {"purpose": "nonsense"}},
            400,
            "purpose",
        ),
        ("POST", "/v1/batches", {"content": b"{broken"}, 400, None),
        ("POST", "/v1/batches", {"json": [1]}, 400, None),
        ("POST", "/v1/batches", {"json": {"endpoint": CHAT}}, 400, "input_file_id"),
        ("GET", "/v1/nowhere", {}, 404, None),
        ("PUT", "/v1/batches", {}, 405, None),
        ("POST", "/_sim/clock/advance", {"json": {"seconds": -1}}, 400, "seconds"),
        ("POST", "/_sim/faults", {"json": {"drop_rate": 2}}, 400, None),
        ("POST", "/_sim/faults", {"json": {"bogus": 1}}, 400, None),
        ("POST", "/_sim/config", {"json": {"bogus": 1}}, 400, "bogus"),
        ("POST", "/_sim/config", {"json": {"cancelling_seconds": True}}, 400, None),
        ("POST", "/_sim/batches/batch_nope/script", {"json": {}}, 404, "batch_id"),
    ],
)
async def test_bad_requests_get_openai_errors(
    asgi_http_client: httpx2.AsyncClient,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    param: str | None,
) -> None:
    headers = {**AUTH, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = await asgi_http_client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert_openai_error(response, status, param)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"endpoint": "/v1/audio/speech"}, "endpoint"),
        ({"completion_window": "1h"}, "completion_window"),
        ({"metadata": {"sim_fail_fraction": "lots"}}, "metadata.sim_fail_fraction"),
        ({"metadata": {"sim_expire": "2"}}, "metadata.sim_expire"),
        ({"metadata": {"sim_unknown": "1"}}, "metadata.sim_unknown"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_batch_creates_are_refused(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator, body: dict[str, object], param: str
) -> None:
    file_id = simulator.upload_file(tagging_file(1), "in.jsonl", "batch")["id"]
    full = {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h", **body}
    response = await asgi_http_client.post("/v1/batches", json=full, headers=AUTH)
    assert_openai_error(response, 400, param)
    assert simulator.list_batches()["data"] == []


async def test_a_batch_needs_a_batch_purpose_file(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    other = simulator.upload_file(b"{}", "notes.jsonl", "user_data")
    with pytest.raises(openai.BadRequestError) as raised:
        await client.batches.create(
            input_file_id=other["id"], endpoint=CHAT, completion_window="24h"
        )
    assert raised.value.param == "input_file_id"


async def test_sdk_sees_typed_errors_over_loopback(
    live_client: openai.AsyncOpenAI, live_sim: LiveSim
) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await live_client.batches.retrieve("batch_missing")
    assert raised.value.status_code == 404
    assert raised.value.type == "invalid_request_error"
    batch_id = upload_and_create(live_sim.simulator, tagging_file(1))
    live_sim.simulator.advance(3600)
    with pytest.raises(openai.ConflictError):
        await live_client.batches.cancel(batch_id)
    with pytest.raises(openai.BadRequestError) as bad:
        await live_client.batches.list(limit=0)
    assert bad.value.param == "limit"


async def test_a_metadata_value_of_the_wrong_type_gets_openais_message(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    """Recorded against OpenAI (llama-stack, test_batch_invalid_metadata_types): "Invalid
    type for 'metadata.tags': expected a string, but got an array instead.", code
    invalid_type."""
    file_id = simulator.upload_file(tagging_file(1), "in.jsonl", "batch")["id"]
    body = {
        "input_file_id": file_id,
        "endpoint": CHAT,
        "completion_window": "24h",
        "metadata": {"tags": ["tag1", "tag2"]},
    }
    response = await asgi_http_client.post("/v1/batches", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Invalid type for 'metadata.tags': expected a string, but got an array instead.",
        "type": "invalid_request_error",
        "param": "metadata.tags",
        "code": "invalid_type",
    }


async def test_an_unsupported_endpoint_gets_openais_message(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    """Recorded against OpenAI (llama-stack, test_batch_invalid_endpoint): "Invalid value:
    '/v1/invalid/endpoint'. Supported values are: '/v1/chat/completions', ..., and
    '/v1/responses'.", code invalid_value, param endpoint."""
    file_id = simulator.upload_file(tagging_file(1), "in.jsonl", "batch")["id"]
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/invalid/endpoint",
        "completion_window": "24h",
    }
    response = await asgi_http_client.post("/v1/batches", json=body, headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("endpoint", "invalid_value")
    assert error["message"] == (
        "Invalid value: '/v1/invalid/endpoint'. Supported values are: '/v1/chat/completions', "
        "'/v1/completions', '/v1/embeddings', '/v1/moderations', and '/v1/responses'."
    )
