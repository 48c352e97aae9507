"""Bad lines cost their own asset a reason, never the rest of the batch."""

from __future__ import annotations

import json
from typing import Any

from openai.types import Batch

from batchmon.engine.apply import UNRETURNED_REASON, BatchApplier
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import insert_assets, openai_batch
from tests.helpers.engine import asset_states, history_counts


def ok_line(custom_id: str, content: str) -> bytes:
    body = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ]
    }
    line = {
        "id": "r",
        "custom_id": custom_id,
        "error": None,
        "response": {"status_code": 200, "request_id": "q", "body": body},
    }
    return json.dumps(line).encode()


def error_line(custom_id: str) -> bytes:
    line = {
        "id": "r",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": "server_error", "message": "the model is overloaded"},
    }
    return json.dumps(line).encode()


async def test_hostile_output_gives_each_asset_an_outcome_and_applies_the_rest(
    client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 8)
    a = ids
    output = b"\n".join(
        [
            ok_line(a[0], '{"tags": ["Fox", "snow"]}'),
            b"{not json at all",
            ok_line("00000000-0000-0000-0000-000000000000", '{"tags": ["stranger"]}'),
            ok_line(a[0], '{"tags": ["second", "answer"]}'),  # duplicate: first one wins
            ok_line(a[1], "a fox in the snow"),  # prose, not JSON
            ok_line(a[2], '{"tags": "fox"}'),  # wrong type
            b"",
            b"\xff\xfe" + ok_line(a[3], '{"tags": ["x"]}'),  # invalid UTF-8
            ok_line(a[4], '{"tags": ["lake"]}'),
            ok_line(a[6], '{"tags": ["cut"]}')[:80],  # truncated last line
        ]
    )
    errors = error_line(a[5]) + b"\n"
    out_file = await client.upload_jsonl(output, filename="out.jsonl")
    err_file = await client.upload_jsonl(errors, filename="err.jsonl")
    raw: dict[str, Any] = openai_batch(
        "batch_hostile",
        "completed",
        total=8,
        completed=5,
        failed=1,
        output_file_id=out_file.id,
        error_file_id=err_file.id,
    )
    await store.mark_submitted(raw, ids)

    report = await BatchApplier(client, store).apply(Batch.model_validate(raw))

    states = asset_states(database_url, ids)
    assert states[a[0]]["tags"] == ["fox", "snow"] and states[a[0]]["status"] == "completed"
    assert states[a[4]]["tags"] == ["lake"]
    for failed in (a[1], a[2], a[3], a[5], a[6], a[7]):
        assert states[failed]["status"] == "failed" and states[failed]["error"], failed
    assert "JSON" in states[a[1]]["error"]
    assert "overloaded" in states[a[5]]["error"]
    assert states[a[7]]["error"] == UNRETURNED_REASON
    assert set(history_counts(database_url, ids).values()) == {1}
    assert report.counts.completed == 2 and report.counts.failed == 6
    assert report.unreturned == 1
    assert report.reasons["unknown_custom_id"] == 1
    assert report.reasons["duplicate_custom_id"] == 1
    assert report.rejected_lines == 3  # malformed, unknown, duplicate
    assert len(report.samples) == report.rejected_lines + report.failed_lines


async def test_upper_case_custom_ids_still_name_their_assets(
    client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 2)
    output = b"\n".join(
        [
            ok_line(ids[0].upper(), '{"tags": ["fox"]}'),  # Swift's uuidString, .NET ToUpper
            ok_line(ids[1], '{"tags": ["lake"]}'),
        ]
    )
    out_file = await client.upload_jsonl(output, filename="out.jsonl")
    raw: dict[str, Any] = openai_batch(
        "batch_upper", "completed", total=2, completed=2, output_file_id=out_file.id
    )
    await store.mark_submitted(raw, ids)

    report = await BatchApplier(client, store).apply(Batch.model_validate(raw))

    states = asset_states(database_url, ids)
    assert states[ids[0]]["status"] == "completed" and states[ids[0]]["tags"] == ["fox"]
    assert states[ids[1]]["tags"] == ["lake"]
    assert report.counts.completed == 2 and report.unreturned == 0
    assert "unknown_custom_id" not in report.reasons
