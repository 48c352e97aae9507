"""Batches for /v1/embeddings, /v1/completions and /v1/moderations, answered in the shapes
the SDK's own types parse."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types import Completion, CreateEmbeddingResponse, ModerationCreateResponse
from pydantic import BaseModel

from batchmon.sim import Simulator

from .helpers import batch_errors, jsonl, read_lines, run_to_end, upload_and_create

EMBEDDINGS = "/v1/embeddings"
COMPLETIONS = "/v1/completions"
MODERATIONS = "/v1/moderations"


def line(custom_id: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


CASES = [
    (
        EMBEDDINGS,
        {"model": "text-embedding-3-small", "input": ["a red fox", "a beach at sunset"]},
        CreateEmbeddingResponse,
        "text-embedding-3-small",
    ),
    (
        COMPLETIONS,
        {"model": "gpt-3.5-turbo-instruct", "prompt": "Tag: red fox", "max_tokens": 20},
        Completion,
        "gpt-3.5-turbo-instruct",
    ),
    (
        MODERATIONS,
        {"model": "omni-moderation-latest", "input": "a red fox"},
        ModerationCreateResponse,
        "omni-moderation-2024-09-26",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "kind", "snapshot"), CASES)
def test_each_endpoint_runs_a_batch(
    simulator: Simulator,
    endpoint: str,
    body: dict[str, Any],
    kind: type[BaseModel],
    snapshot: str,
) -> None:
    data = jsonl([line(f"r-{i}", endpoint, body) for i in range(3)])
    batch = run_to_end(simulator, data, endpoint=endpoint)
    assert batch.status == "completed" and batch.endpoint == endpoint
    assert batch.model == snapshot
    assert batch.request_counts is not None and batch.request_counts.completed == 3
    answers = read_lines(simulator, batch.output_file_id)
    assert sorted(a["custom_id"] for a in answers) == ["r-0", "r-1", "r-2"]
    for answer in answers:
        assert answer["response"]["status_code"] == 200
        parsed = kind.model_validate(answer["response"]["body"])
        assert getattr(parsed, "model", None) == snapshot


def test_embeddings_answer_one_vector_per_input(simulator: Simulator) -> None:
    body = {"model": "text-embedding-3-small", "input": ["one", "two", "three"]}
    batch = run_to_end(simulator, jsonl([line("e", EMBEDDINGS, body)]), endpoint=EMBEDDINGS)
    (answer,) = read_lines(simulator, batch.output_file_id)
    parsed = CreateEmbeddingResponse.model_validate(answer["response"]["body"])
    assert [d.index for d in parsed.data] == [0, 1, 2]
    assert len({tuple(d.embedding) for d in parsed.data}) == 3


def test_a_line_for_another_endpoint_is_an_invalid_url(simulator: Simulator) -> None:
    """A line for another endpoint than the batch's is invalid_url, as for chat batches."""
    body = {"model": "text-embedding-3-small", "input": "x"}
    data = jsonl([line("e", COMPLETIONS, body)])
    batch_id = upload_and_create(simulator, data, endpoint=EMBEDDINGS)
    simulator.advance(5)
    batch = simulator.batch(batch_id)
    assert batch.status == "failed"
    assert [e.code for e in batch_errors(batch)] == ["invalid_url"]
