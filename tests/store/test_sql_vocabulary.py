"""The SQL names the status vocabulary of ``core.status``, not a copy that can drift."""

from __future__ import annotations

import re

from batchmon.core.status import PENDING_STATUSES, TERMINAL_STATUSES, TIMESTAMP_FIELDS
from tests.fixtures.postgres import fetch_all

# Every status timestamp, then the one that marks no status (when the batch will expire).
OPENAI_TIMESTAMPS = [*TIMESTAMP_FIELDS, "expires_at"]


def test_record_batch_statuses_stores_exactly_the_status_timestamps(database_url: str) -> None:
    [(body,)] = fetch_all(
        database_url,
        "select prosrc from pg_proc where proname = 'record_batch_statuses'"
        " and pronamespace = 'public'::regnamespace",
    )
    inserted = re.search(r"insert into public\.openai_batches as t \((.*?)\)", body, re.S)
    assert inserted is not None
    columns = [c.strip() for c in inserted.group(1).split(",")]
    read = re.findall(r"batchmon_epoch\(s\.b -> '(\w+)'\)", body)
    kept = re.findall(r"(\w+_at) = coalesce\(excluded\.\1, t\.\1\)", body)

    assert [c for c in columns if c.endswith("_at")] == [
        *OPENAI_TIMESTAMPS,
        "updated_at",
    ]
    assert read == OPENAI_TIMESTAMPS
    assert kept == OPENAI_TIMESTAMPS


def test_the_sql_final_statuses_are_core_status_terminal_ones(database_url: str) -> None:
    statuses = sorted(PENDING_STATUSES | TERMINAL_STATUSES | {"unknown"})
    rows = fetch_all(
        database_url,
        "select s, public.batchmon_terminal(s) from unnest(%s::text[]) as s",
        (statuses,),
    )
    assert {status for status, final in rows if final} == TERMINAL_STATUSES
