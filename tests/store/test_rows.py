"""One row conversion for both transports: psycopg's values and PostgREST's JSON alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from batchmon.store.job_rows import EndedJobBatch, JobBatch, JobCancel
from batchmon.store.protocol import BatchRow
from batchmon.store.rows import parse_timestamp, row_to

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
USER = uuid.UUID("0b6f3d7e-2c1a-4f5b-8e9d-1a2b3c4d5e6f")


def test_a_psycopg_row_and_a_postgrest_row_make_the_same_batch() -> None:
    psycopg_row = {"id": "b1", "user_id": USER, "status": "completed", "created_at": WHEN}
    json_row = {
        "id": "b1",
        "user_id": str(USER),
        "status": "completed",
        "created_at": "2026-01-02T03:04:05.678901Z",
        "claimed_by": "w1",  # a column the dataclass does not carry
    }

    assert row_to(BatchRow, psycopg_row) == row_to(BatchRow, json_row)
    assert row_to(BatchRow, psycopg_row).user_id == str(USER)
    assert row_to(BatchRow, json_row).created_at == WHEN


def test_arrays_become_tuples_where_the_field_is_one_and_null_an_empty_one() -> None:
    row = {
        "id": 7,
        "job_id": USER,
        "user_id": None,
        "model": "gpt-4o-mini",
        "endpoint": "/v1/chat/completions",
        "ordinal": 1,
        "attempt": 1,
        "attempts": 2,
        "asset_ids": ["a", "b"],
        "request_count": 2,
        "bytes": 100,
        "estimated_tokens": 10,
        "estimated_cost": None,
        "state": "queued",
        "retry_token": None,
        "openai_batch_id": None,
    }

    batch = row_to(JobBatch, row)

    assert batch.asset_ids == ("a", "b") and batch.job_id == str(USER)
    assert row_to(JobBatch, {**row, "asset_ids": None}).asset_ids == ()
    assert row_to(JobCancel, {"dropped": 2, "running": None}) == JobCancel(2, ())


def test_a_null_array_stays_none_where_the_field_may_be_none() -> None:
    ended = {
        "id": 1,
        "job_id": USER,
        "attempt": 1,
        "attempts": 1,
        "attempts_allowed": 2,
        "job_status": "running",
        "openai_batch_id": "batch_1",
        "status": "completed",
    }
    sized = row_to(EndedJobBatch, {**ended, "image_size": [512, 384]})
    assert sized.image_size == (512, 384)
    assert row_to(EndedJobBatch, {**ended, "image_size": None}).image_size is None


def test_a_timestamp_is_what_either_transport_sends_or_an_error() -> None:
    assert parse_timestamp(WHEN) is WHEN
    assert parse_timestamp(None) is None
    assert parse_timestamp("2026-01-02T03:04:05.678901+00:00") == WHEN
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp(12)
