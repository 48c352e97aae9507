"""Shared helpers for the simulator tests: input files, the OpenAPI contract, clients."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx2
import openai
from openai.types import Batch
from openai.types.batch_error import BatchError
from openapi_schema_validator import OAS31Validator, validate

from batchmon.sim import Simulator

CHAT: Final = "/v1/chat/completions"
RESPONSES: Final = "/v1/responses"
MODEL = "gpt-4o-mini"
SPEC_PATH = Path(__file__).parent / "reference" / "openai-batch-openapi.json"
"""OpenAI's description of the Batch API, kept with the tests that check against it."""


def image_url(i: int) -> str:
    return f"https://images.example.com/assets/{i}/red-fox_{i}.jpg"


def request_line(
    custom_id: str, url: str, *, endpoint: str = CHAT, model: str = MODEL
) -> dict[str, Any]:
    """One batch request tagging the image at `url` (chat-completions or responses form)."""
    if endpoint == RESPONSES:
        body: dict[str, Any] = {
            "model": model,
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Tag this image."},
                        {"type": "input_image", "image_url": url},
                    ],
                }
            ],
        }
    else:
        body = {
            "model": model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Tag this image."},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
            "response_format": {"type": "json_object"},
        }
    return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}


def jsonl(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, str) else json.dumps(line)).encode() + b"\n" for line in lines
    )


def tagging_file(n: int, *, endpoint: str = CHAT, prefix: str = "asset-") -> bytes:
    return jsonl([request_line(f"{prefix}{i}", image_url(i), endpoint=endpoint) for i in range(n)])


def upload_and_create(
    sim: Simulator, data: bytes, *, endpoint: str = CHAT, metadata: dict[str, str] | None = None
) -> str:
    """Create a batch directly on the Simulator (no HTTP); returns its id."""
    file_id = sim.upload_file(data, "input.jsonl", "batch")["id"]
    batch = sim.create_batch(input_file_id=file_id, endpoint=endpoint, metadata=metadata)
    return str(batch["id"])


def run_to_end(sim: Simulator, data: bytes, **create_args: Any) -> Batch:
    """A batch created directly on the Simulator and run for an hour of its clock: its end."""
    batch_id = upload_and_create(sim, data, **create_args)
    sim.advance(3600)
    return sim.batch(batch_id)


def completed_batch(sim: Simulator, lines: int) -> tuple[str, str]:
    """(batch id, output file id) of a tagging batch of `lines` requests, run to completion."""
    batch = run_to_end(sim, tagging_file(lines))
    assert batch.output_file_id is not None
    return batch.id, batch.output_file_id


def batch_errors(batch: Batch) -> list[BatchError]:
    """The errors of a failed batch (asserting it has some)."""
    assert batch.errors is not None and batch.errors.data, batch
    return batch.errors.data


def read_lines(sim: Simulator, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    return [json.loads(line) for line in sim.file_content(file_id).splitlines()]


# -- the OpenAPI contract -------------------------------------------------------------


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


def response_schema(method: str, path: str) -> dict[str, Any]:
    """The reference's 200 response schema for `method path` (path under /v1)."""
    paths = spec()["paths"]
    path = path.split("?", 1)[0]
    for template, operations in paths.items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            content = operations[method.lower()]["responses"]["200"]["content"]
            schema: dict[str, Any] = content["application/json"]["schema"]
            return schema
    raise AssertionError(f"the reference describes no operation {method} {path}")


def assert_conforms(method: str, path: str, body: Any) -> None:
    """Validate `body` against the reference schema, resolving $refs in the reference."""
    schema = {**response_schema(method, path), "components": spec()["components"]}
    validate(body, schema, cls=OAS31Validator)


def schema_for(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": spec()["components"]}


def sdk_client(http_client: httpx2.AsyncClient, base_url: str, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0
    )
