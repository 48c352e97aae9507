"""Every simulator response body validates against OpenAI's own OpenAPI description.

The schemas come from the reference file, $refs resolved by the validator: nothing here
restates the contract by hand. Each body must also parse into the SDK's types.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from openai.types import Batch, FileDeleted, FileObject
from openapi_schema_validator import OAS31Validator, validate

from batchmon.sim import Simulator
from tests.fixtures.sim import SIM_API_KEY

from .helpers import CHAT, assert_conforms, batch_errors, jsonl, schema_for, tagging_file

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}


class Recorder:
    """Calls the simulator and checks each 200 body against the reference schema."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.checked: set[str] = set()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, "/v1" + path, headers=AUTH, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert_conforms(method, path, body)
        self.checked.add(method + " " + path.split("?")[0])
        return body


async def test_every_operation_and_state_conforms(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    rec = Recorder(asgi_http_client)
    files = {"file": ("input.jsonl", tagging_file(6))}
    uploaded = await rec.call("POST", "/files", files=files, data={"purpose": "batch"})
    FileObject.model_validate(uploaded)
    FileObject.model_validate(await rec.call("GET", f"/files/{uploaded['id']}"))

    scripts: list[dict[str, str] | None] = [
        None,
        {"sim_fail_fraction": "0.5"},
        {"sim_fail_fraction": "1"},
        {"sim_fail_validation": "1"},
        {"sim_expire": "1"},
        {"sim_stall_finalizing": "1"},
        {"sim_empty_error_file_id": "1"},
    ]
    ids = []
    for metadata in scripts:
        body: dict[str, Any] = {
            "input_file_id": uploaded["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        }
        if metadata is not None:
            body["metadata"] = metadata
        ids.append((await rec.call("POST", "/batches", json=body))["id"])
    to_cancel = ids[0]

    seen_statuses: set[str] = set()
    for step in (0, 5, 20, 45, 5, 3600, 24 * 3600):
        simulator.advance(step)
        if step == 20:
            seen_statuses.add((await rec.call("POST", f"/batches/{to_cancel}/cancel"))["status"])
        for batch_id in ids:
            batch = await rec.call("GET", f"/batches/{batch_id}")
            Batch.model_validate(batch)
            seen_statuses.add(batch["status"])
        listing = await rec.call("GET", "/batches?limit=3")
        assert [Batch.model_validate(b).id for b in listing["data"]] == ids[::-1][:3]
    assert seen_statuses == {
        "validating",
        "in_progress",
        "finalizing",
        "completed",
        "failed",
        "expired",
        "cancelling",
        "cancelled",
    }

    listed = await rec.call("GET", "/files?purpose=batch_output")
    assert listed["data"]
    for file in listed["data"]:
        FileObject.model_validate(file)
    assert (await rec.call("GET", "/files?purpose=nothing"))["data"] == []
    deleted = await rec.call("DELETE", f"/files/{uploaded['id']}")
    assert FileDeleted.model_validate(deleted).deleted is True
    empty = await rec.call("GET", "/batches?after=" + ids[0])
    assert empty == {"object": "list", "data": [], "has_more": False}
    assert rec.checked == {
        "POST /files",
        "GET /files",
        f"GET /files/{uploaded['id']}",
        f"DELETE /files/{uploaded['id']}",
        "POST /batches",
        "GET /batches",
        *{f"GET /batches/{i}" for i in ids},
        f"POST /batches/{to_cancel}/cancel",
    }


def test_the_contract_catches_a_wrong_body() -> None:
    """The check has teeth: a body missing a required field is rejected."""
    with pytest.raises(Exception, match="status"):
        validate({"id": "batch_1", "object": "batch"}, schema_for("Batch"), cls=OAS31Validator)


async def test_openais_failures_conform_too(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    """The late and queue failures, expiry policies, a re-cancel and the other endpoints."""
    rec = Recorder(asgi_http_client)
    simulator.configure(queue={"enqueued_token_limits": {"gpt-4o-mini": 1}})
    files = {"file": ("input.jsonl", tagging_file(2))}
    policy = {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"}
    uploaded = await rec.call("POST", "/files", files=files, data={"purpose": "batch", **policy})
    assert FileObject.model_validate(uploaded).expires_at == uploaded["created_at"] + 3600
    embeddings = jsonl(
        [
            {
                "custom_id": "e",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "text-embedding-3-small", "input": "x"},
            }
        ]
    )
    other = simulator.upload_file(embeddings, "e.jsonl", "batch")["id"]
    bodies: list[dict[str, Any]] = [
        {"input_file_id": uploaded["id"], "endpoint": CHAT},  # token_limit_exceeded
        {"input_file_id": "file-nope", "endpoint": CHAT},  # fails later: no such file
        {
            "input_file_id": other,
            "endpoint": "/v1/embeddings",
            "output_expires_after": {"anchor": "created_at", "seconds": 3600},
        },
    ]
    ids = []
    for body in bodies:
        created = await rec.call("POST", "/batches", json={**body, "completion_window": "24h"})
        ids.append(created["id"])
    cancelled = await rec.call("POST", f"/batches/{ids[2]}/cancel")
    again = await rec.call("POST", f"/batches/{ids[2]}/cancel")
    assert cancelled["status"] == again["status"] == "cancelling"
    simulator.advance(3600)
    codes = []
    for batch_id in ids:
        batch = Batch.model_validate(await rec.call("GET", f"/batches/{batch_id}"))
        codes.append([e.code for e in batch_errors(batch)] if batch.errors else batch.status)
    assert codes == [["token_limit_exceeded"], ["invalid_request"], "cancelled"]
