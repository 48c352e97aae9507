"""Bad input files fail the batch while `validating`, naming the line and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from batchmon.sim import Simulator
from batchmon.sim.validation import MAX_REQUESTS

from .helpers import (
    CHAT,
    RESPONSES,
    batch_errors,
    image_url,
    jsonl,
    request_line,
    upload_and_create,
)


def failed_errors(
    sim: Simulator, data: bytes, **kwargs: Any
) -> list[tuple[str, int | None, str | None]]:
    batch_id = upload_and_create(sim, data, **kwargs)
    assert sim.batch(batch_id).status == "validating"
    sim.advance(5)
    batch = sim.batch(batch_id)
    assert batch.status == "failed"
    assert batch.failed_at == batch.created_at + 5
    assert batch.in_progress_at is None and batch.output_file_id is None
    assert batch.errors is not None and batch.errors.object == "list"
    assert batch.errors.data
    return [(e.code or "", e.line, e.param) for e in batch.errors.data]


def good(i: int, **kwargs: Any) -> dict[str, Any]:
    return request_line(f"asset-{i}", image_url(i), **kwargs)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([good(0), "{not json"], [("invalid_json_line", 2, None)]),
        ([good(0), "[1, 2]"], [("invalid_json_line", 2, None)]),
        (
            [{k: v for k, v in good(0).items() if k != "custom_id"}],
            [("missing_required_parameter", 1, "custom_id")],
        ),
        ([good(0), good(1), good(0)], [("duplicate_custom_id", 3, "custom_id")]),
        ([good(0), {**good(1), "method": "GET"}], [("invalid_method", 2, "method")]),
        ([{**good(0), "url": RESPONSES}], [("invalid_url", 1, "url")]),
        ([good(0), good(1, model="gpt-4o")], [("mismatched_model", 2, "body.model")]),
        ([{**good(0), "body": {"messages": []}}], [("invalid_request", 1, "body.model")]),
        (
            [{**good(0), "body": {"model": "gpt-4o-mini"}}],
            [("invalid_request", 1, "body.messages")],
        ),
        ([], [("empty_file", None, None)]),
        # A missing method, url or body is missing_required_parameter naming the field, not
        # invalid_method / invalid_url (OpenAI's batch error codes).
        (
            [good(0), {k: v for k, v in good(1).items() if k != "method"}],
            [("missing_required_parameter", 2, "method")],
        ),
        (
            [{k: v for k, v in good(0).items() if k != "url"}],
            [("missing_required_parameter", 1, "url")],
        ),
        (
            [{k: v for k, v in good(0).items() if k != "body"}],
            [("missing_required_parameter", 1, "body")],
        ),
        ([good(0, model="gpt-4o-mini-x")], [("model_not_found", 1, "body.model")]),
        (
            [good(0), {**good(1), "body": {**good(1)["body"], "stream": True}}],
            [("streaming_unsupported", 2, "body.stream")],
        ),
    ],
)
def test_each_rule_fails_the_batch_with_its_line(
    simulator: Simulator, lines: list[Any], expected: list[tuple[str, int | None, str | None]]
) -> None:
    assert failed_errors(simulator, jsonl(lines)) == expected


def test_every_bad_line_is_reported(simulator: Simulator) -> None:
    data = jsonl([good(0), "oops", good(2), {**good(3), "url": "/v1/embeddings"}])
    codes = failed_errors(simulator, data)
    assert codes == [("invalid_json_line", 2, None), ("invalid_url", 4, "url")]


def test_invalid_utf8_is_an_invalid_line(simulator: Simulator) -> None:
    data = jsonl([good(0)]) + b'{"custom_id": "\xff"}\n'
    assert failed_errors(simulator, data) == [("invalid_json_line", 2, None)]


def test_too_many_requests(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import batchmon.sim.validation as validation

    assert MAX_REQUESTS == 50_000
    monkeypatch.setattr(validation, "MAX_REQUESTS", 3)
    data = jsonl([good(i) for i in range(4)])
    assert failed_errors(simulator, data) == [("too_many_requests", 4, None)]


def test_too_large_a_file(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import batchmon.sim.validation as validation

    monkeypatch.setattr(validation, "MAX_BYTES", 100)
    assert failed_errors(simulator, jsonl([good(0)])) == [("file_too_large", None, None)]


def test_scripted_validation_failure(simulator: Simulator) -> None:
    errors = failed_errors(simulator, jsonl([good(0)]), metadata={"sim_fail_validation": "1"})
    assert errors == [("invalid_request", None, None)]


def test_a_valid_file_with_blank_lines_passes(simulator: Simulator) -> None:
    data = jsonl([good(0)]) + b"\n\n" + jsonl([good(1, endpoint=CHAT)])
    batch_id = upload_and_create(simulator, data)
    simulator.advance(5)
    batch = simulator.batch(batch_id)
    assert batch.status == "in_progress"
    assert batch.request_counts is not None and batch.request_counts.total == 2


def error_messages(sim: Simulator, lines: list[Any]) -> list[tuple[int | None, str | None]]:
    batch_id = upload_and_create(sim, jsonl(lines))
    sim.advance(5)
    return [(e.line, e.message) for e in batch_errors(sim.batch(batch_id))]


def test_missing_fields_get_openais_messages(simulator: Simulator) -> None:
    """Recorded against OpenAI (llama-stack, test_batch_missing_required_fields): every
    line is reported, "Missing required parameter: 'custom_id'." for line 1 and likewise
    'method', 'url' and 'body' for lines 2 to 4."""
    lines = [
        {k: v for k, v in good(i).items() if k != field}
        for i, field in enumerate(("custom_id", "method", "url", "body"))
    ]
    assert error_messages(simulator, lines) == [
        (1, "Missing required parameter: 'custom_id'."),
        (2, "Missing required parameter: 'method'."),
        (3, "Missing required parameter: 'url'."),
        (4, "Missing required parameter: 'body'."),
    ]


def test_body_faults_get_openais_messages(simulator: Simulator) -> None:
    """Recorded against OpenAI (llama-stack's test_batches_errors.py): model_not_found
    "The provided model 'nonexistent-model-xyz' is not supported by the Batch API.",
    streaming_unsupported "Chat Completions: Streaming is not supported in the Batch API.",
    invalid_url "The URL provided for this request does not match the batch endpoint.",
    invalid_request "Model parameter is required." / "Messages parameter is required.",
    invalid_json_line "This line is not parseable as valid JSON."."""
    lines: list[Any] = [
        good(0, model="nonexistent-model-xyz"),
        {**good(1), "body": {**good(1)["body"], "stream": True}},
        {**good(2), "url": "/v1/embeddings"},
        {**good(3), "body": {"messages": []}},
        {**good(4), "body": {"model": "gpt-4o-mini"}},
        "{invalid json here",
    ]
    assert error_messages(simulator, lines) == [
        (1, "The provided model 'nonexistent-model-xyz' is not supported by the Batch API."),
        (2, "Chat Completions: Streaming is not supported in the Batch API."),
        (3, "The URL provided for this request does not match the batch endpoint."),
        (4, "Model parameter is required."),
        (5, "Messages parameter is required."),
        (6, "This line is not parseable as valid JSON."),
    ]


@pytest.mark.parametrize(
    ("model", "reported"),
    [
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ],
)
def test_known_models_and_their_dated_snapshots_run(
    simulator: Simulator, model: str, reported: str
) -> None:
    batch_id = upload_and_create(simulator, jsonl([good(0, model=model), good(1, model=model)]))
    simulator.advance(5)
    batch = simulator.batch(batch_id)
    assert batch.status == "in_progress"
    assert batch.model == reported
