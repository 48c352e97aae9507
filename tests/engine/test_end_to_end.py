"""Submit -> the simulator runs the batch -> the worker applies it, on a real Postgres."""

from __future__ import annotations

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.rules import request_fails
from batchmon.store.postgres import PostgresStore
from tests.helpers.engine import (
    assert_predicted,
    asset_states,
    fast_worker,
    finish,
    history_counts,
    submit_and_apply,
    submit_new,
)


async def test_submitted_assets_get_exactly_the_predicted_tags(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, ids = await submit_new(client, store, database_url, 30)
    assert {s["status"] for s in asset_states(database_url, ids).values()} == {"pending"}

    worker = fast_worker(client, store)
    early = await worker.run_once()
    assert early.run.checked == 1 and early.applied == []

    finish(simulator)
    report = await worker.run_once()

    assert report.run.applied == 1 and report.run.failed == 0
    states = asset_states(database_url, ids)
    assert_predicted(states, ids)
    assert set(history_counts(database_url, ids).values()) == {1}
    row = await store.get_batch(batch_id)
    assert row is not None and row.status == "completed" and row.applied_at is not None


async def test_partial_failure_fails_only_the_failed_requests_with_a_reason(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    _, ids, _ = await submit_and_apply(
        client, store, database_url, simulator, 40, metadata={"sim_fail_fraction": "0.3"}
    )

    failing = {i for i in ids if request_fails(i, 0.3)}
    assert 0 < len(failing) < len(ids)
    states = asset_states(database_url, ids)
    assert_predicted(states, [i for i in ids if i not in failing])
    for asset_id in failing:
        assert states[asset_id]["status"] == "failed"
        assert states[asset_id]["error"]
        assert states[asset_id]["tags"] is None
    assert set(history_counts(database_url, ids).values()) == {1}
