"""A batch OpenAI had no queue room for is not an asset failure.

``token_limit_exceeded`` ("Please try again once some in_progress batches have been
completed") puts the assets back to waiting; a later pass resubmits them, once, and they
are applied from the new batch. A validation failure still fails them with its reason.
The simulator fails the batch (``sim_fail_validation``); the server in front of it
reports the failure as OpenAI reports a full queue.
"""

from __future__ import annotations

import asyncio

from batchmon.engine.failures import WAITING_FOR_QUEUE
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all
from tests.reliability.helpers import fast_worker, ledger, submit_batches
from tests.reliability.misbehaving_api import LiveMisbehavingApi

BATCHES = r"GET /v1/batches"


async def failing_validation(
    client: BatchClient, store: PostgresStore, database_url: str, count: int
) -> tuple[str, list[str]]:
    """One batch of ``count`` new assets that the simulator will fail in validation."""
    [batch_id], ids = await submit_batches(
        client, store, database_url, 1, count, metadata={"sim_fail_validation": "1"}
    )
    return batch_id, ids


async def test_a_full_queue_resubmits_the_assets_once_and_applies_them(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    old_id, ids = await failing_validation(misbehaving_client, store, database_url, 12)
    misbehaving_api.api.add("token_limit", BATCHES, times=1_000_000)
    misbehaving_api.simulator.advance(60)
    other = await PostgresStore.open(database_url)
    workers = [
        fast_worker(misbehaving_client, store, "w1"),
        fast_worker(misbehaving_client, other, "w2"),
    ]
    try:
        first = await workers[0].run_once()
        assert [a.problem for a in first.applied] == [WAITING_FOR_QUEUE]
        waiting = (await store.results_states([old_id]))[old_id]
        assert (waiting.state, waiting.note) == ("waiting_for_queue", WAITING_FOR_QUEUE)
        assert ledger(database_url, ids).failed == []  # waiting, not failed

        await asyncio.gather(*(w.run_once() for w in workers))  # both try to resubmit
    finally:
        await other.close()
    old = await store.get_batch(old_id)
    assert old is not None and old.retried_by is not None
    resubmitted = (await store.results_states([old_id]))[old_id]
    assert resubmitted.state == "resubmitted" and resubmitted.next_check_at is None
    retries = fetch_all(
        database_url, "select id from public.openai_batches where retry_of = %s", (old_id,)
    )
    assert retries == [(old.retried_by,)]  # exactly one new batch
    assert len(misbehaving_api.simulator.list_batches()["data"]) == 2

    misbehaving_api.simulator.advance(3600)
    await workers[0].run_once()
    book = ledger(database_url, ids)
    assert len(book.completed) == len(ids)
    assert book.applied_twice == [] and book.lost == [] and book.wrong_tags() == []
    assert {state["batch"] for state in book.states.values()} == {old.retried_by}


async def test_a_validation_failure_still_fails_the_assets_with_the_reason(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    batch_id, ids = await failing_validation(misbehaving_client, store, database_url, 3)
    misbehaving_api.simulator.advance(60)

    await fast_worker(misbehaving_client, store).run_once()

    book = ledger(database_url, ids)
    assert sorted(book.failed) == sorted(ids)
    assert all("[invalid_request]" in book.states[a]["error"] for a in ids)
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is not None
    assert await store.results_states([batch_id]) == {}
