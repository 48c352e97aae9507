"""Retry resubmits only what failed, from the input file or rebuilt, and makes one batch."""

from __future__ import annotations

import asyncio

from batchmon.engine.retry import RETRY_TOKEN_KEY, Retrier, RetryNotPossible, retry_token
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.rules import request_fails
from batchmon.store.postgres import PostgresStore
from tests.helpers.engine import (
    assert_predicted,
    asset_states,
    finish_and_apply,
    history_counts,
    submit_and_apply,
    submit_new,
)


def retries_of(simulator: Simulator, batch_id: str) -> list[dict[str, object]]:
    batches = simulator.list_batches(limit=100)["data"]
    return [b for b in batches if (b.get("metadata") or {}).get("retry_of") == batch_id]


async def _failed_batch(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> tuple[str, list[str], set[str]]:
    batch_id, ids, _ = await submit_and_apply(
        client, store, database_url, simulator, 30, metadata={"sim_fail_fraction": "0.4"}
    )
    # The scripted failures are invalid_image_url (HTTP 400): permanent, so the retries
    # below include them; the simulator tags them the second time.
    failing = {i for i in ids if request_fails(i, 0.4)}
    assert failing and len(failing) < len(ids)
    return batch_id, ids, failing


async def test_retry_resends_only_failed_requests_from_the_input_file(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, ids, failing = await _failed_batch(client, store, database_url, simulator)

    result = await Retrier(client, store).retry(batch_id, include_permanent=True)

    assert result.created and result.source == "input_file"
    assert result.asset_count == len(failing)
    sent = simulator.file_content(result.new_batch.input_file_id).decode().splitlines()
    original = simulator.file_content(simulator.batch(batch_id).input_file_id).decode()
    assert len(sent) == len(failing) and all(line in original for line in sent)
    assert result.new_batch.metadata is not None
    assert result.new_batch.metadata["retry_of"] == batch_id
    old = await store.get_batch(batch_id)
    assert old is not None and old.retried_by == result.new_batch.id

    await finish_and_apply(client, store, simulator)
    states = asset_states(database_url, ids)
    assert_predicted(states, ids)
    assert {states[i]["batch"] for i in failing} == {result.new_batch.id}
    counts = history_counts(database_url, ids)
    assert all(counts[i] == (2 if i in failing else 1) for i in ids)  # failed once, then tagged


async def test_retry_rebuilds_requests_when_the_input_file_is_gone(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, ids, failing = await _failed_batch(client, store, database_url, simulator)
    simulator.delete_file(simulator.batch(batch_id).input_file_id)

    result = await Retrier(client, store).retry(batch_id, include_permanent=True)

    assert result.source == "rebuilt" and result.asset_count == len(failing)
    await finish_and_apply(client, store, simulator)
    assert_predicted(asset_states(database_url, ids), ids)


async def test_retry_after_failed_validation_resends_everything(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, ids, _ = await submit_and_apply(
        client, store, database_url, simulator, 7, metadata={"sim_fail_validation": "1"}
    )

    result = await Retrier(client, store).retry(batch_id)

    assert result.asset_count == len(ids)
    await finish_and_apply(client, store, simulator)
    assert_predicted(asset_states(database_url, ids), ids)


async def test_two_clicks_and_two_processes_make_one_new_batch(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, _, failing = await _failed_batch(client, store, database_url, simulator)
    other_store = await PostgresStore.open(database_url)
    try:
        one = Retrier(client, store)
        other_process = Retrier(client, other_store)
        results = await asyncio.gather(
            *(r.retry(batch_id, include_permanent=True) for r in (one, one, other_process))
        )
    finally:
        await other_store.close()

    new_ids = {r.new_batch.id for r in results}
    assert len(new_ids) == 1
    live = [b for b in retries_of(simulator, batch_id) if b["status"] != "cancelling"]
    assert [b["id"] for b in live] == list(new_ids)
    row = await store.get_batch(new_ids.pop())
    assert row is not None and row.asset_count == len(failing)


async def test_retry_adopts_a_batch_created_before_a_crash(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    """A create that reached OpenAI but never got linked is found by its token."""
    batch_id, _, failing = await _failed_batch(client, store, database_url, simulator)
    old = await store.get_batch(batch_id)
    assert old is not None
    uploaded = await client.upload_jsonl(b'{"custom_id":"x"}\n')
    orphan = await client.create_batch(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        metadata={"retry_of": batch_id, RETRY_TOKEN_KEY: retry_token(batch_id, old.attempt + 1)},
    )

    result = await Retrier(client, store).retry(batch_id, include_permanent=True)

    assert result.new_batch.id == orphan.id and not result.created
    assert len(retries_of(simulator, batch_id)) == 1
    row = await store.get_batch(batch_id)
    assert row is not None and row.retried_by == orphan.id
    states = asset_states(database_url, list(failing))
    assert {s["batch"] for s in states.values()} == {orphan.id}


async def test_retry_of_a_running_batch_is_refused_with_a_reason(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, _ = await submit_new(client, store, database_url, 3)
    try:
        await Retrier(client, store).retry(batch_id)
    except RetryNotPossible as exc:
        assert "still" in str(exc) and batch_id in str(exc)
    else:
        raise AssertionError("retrying a running batch must be refused")
    assert retries_of(simulator, batch_id) == []
