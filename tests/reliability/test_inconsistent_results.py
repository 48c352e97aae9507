"""A batch is finished only from result files consistent with it (S2).

The batch says how many requests completed and failed; a download with fewer lines
(an HTML page or an empty body with 200, a body that ends cleanly at a line boundary
halfway through) is applied as far as it goes and fetched again later. No asset is
failed for a line that never arrived, and none is applied twice.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from batchmon.engine.apply import ResultsPolicy
from batchmon.engine.worker import Worker
from tests.fixtures.postgres import execute
from tests.helpers.cli import cli_env
from tests.reliability.helpers import (
    Misbehaving,
    batchmon_output,
    fast_worker,
    ledger,
)
from tests.reliability.misbehaving_api import Kind

CONTENT = r"GET /v1/files/.*/content"
ASSETS = 20


async def _finished_batch(
    misbehaving: Misbehaving, kind: Kind, *, times: int = 1
) -> tuple[str, list[str], Worker]:
    """One finished batch of ASSETS, its download to be answered ``kind`` ``times``."""
    batch_id, ids = await misbehaving.finished_batch(ASSETS)
    misbehaving.server.api.add(kind, CONTENT, times=times)
    return batch_id, ids, fast_worker(misbehaving.client, misbehaving.store)


@pytest.mark.parametrize("kind", ["html", "empty", "cut_at_line"])
async def test_short_content_applies_what_came_and_fetches_the_rest_again(
    kind: Kind, misbehaving: Misbehaving
) -> None:
    store, database_url = misbehaving.store, misbehaving.database_url
    batch_id, ids, worker = await _finished_batch(misbehaving, kind)

    await worker.run_once()
    first = ledger(database_url, ids)
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is None
    assert (await store.results_states([batch_id]))[batch_id].state == "refetching"
    assert first.failed == []  # nothing failed for lines that did not arrive
    assert len(first.completed) == (ASSETS // 2 if kind == "cut_at_line" else 0)

    second = await worker.run_once()
    assert [a.batch_id for a in second.applied if not a.problem] == [batch_id]
    book = ledger(database_url, ids)
    assert len(book.completed) == ASSETS
    assert book.lost == [] and book.applied_twice == [] and book.wrong_tags() == []
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is not None
    assert await store.results_states([batch_id]) == {}  # nothing left to report


async def _status_json(database_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """What ``batchmon status --offline --json`` shows a person."""
    out = await batchmon_output(
        cli_env(tmp_path), "status", "--offline", "--json", "--database-url", database_url
    )
    batches: list[dict[str, Any]] = json.loads(out)["batches"]
    return batches


async def test_results_still_missing_after_a_few_tries_are_flagged_not_failed(
    misbehaving: Misbehaving, tmp_path: Path
) -> None:
    store, database_url = misbehaving.store, misbehaving.database_url
    batch_id, ids, worker = await _finished_batch(misbehaving, "cut_at_line", times=3)

    notes = []
    for _ in range(3):
        report = await worker.run_once()
        notes += [a.problem for a in report.applied]

    assert notes == [
        "results incomplete: 10 of 20 received; downloading again (try 1)",
        "results incomplete: 10 of 20 received; downloading again (try 2)",
        "results incomplete: 10 of 20 received",
    ]
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is None and row.pending_assets == 10
    flagged = (await store.results_states([batch_id]))[batch_id]
    assert (flagged.state, flagged.note, flagged.attempts) == (
        "results_incomplete",
        "results incomplete: 10 of 20 received",
        3,
    )
    assert ledger(database_url, ids).failed == []
    shown = await _status_json(database_url, tmp_path)
    assert [(b["batch_id"], b["results_state"], b["results_note"]) for b in shown] == [
        (batch_id, "results_incomplete", "results incomplete: 10 of 20 received")
    ]

    await worker.run_once()  # the server answers in full again
    book = ledger(database_url, ids)
    assert len(book.completed) == ASSETS and book.applied_twice == []


async def test_a_refetch_waits_longer_each_time(misbehaving: Misbehaving) -> None:
    store, database_url = misbehaving.store, misbehaving.database_url
    batch_id, _ = await misbehaving.finished_batch(4)
    misbehaving.server.api.add("empty", CONTENT, times=2)
    worker = fast_worker(misbehaving.client, store)
    worker.config = replace(worker.config, results=ResultsPolicy())  # 2 min, doubling

    waits = []
    for _ in range(2):
        before = datetime.now(UTC)
        report = await worker.run_once()
        assert report.run.checked == 1
        wait_until = (await store.results_states([batch_id]))[batch_id].next_check_at
        assert wait_until is not None
        waits.append(wait_until - before)
        assert (await worker.run_once()).run.checked == 0  # not claimed during the wait
        execute(database_url, "update public.batch_results_state set next_check_at = now()")

    assert timedelta(minutes=2) <= waits[0] < timedelta(minutes=2, seconds=30)
    assert timedelta(minutes=4) <= waits[1] < timedelta(minutes=4, seconds=30)
