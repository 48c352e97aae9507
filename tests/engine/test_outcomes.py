"""Every way a batch can end leaves each asset completed or failed with a reason, once."""

from __future__ import annotations

from batchmon.engine.apply import UNRETURNED_REASON, BatchApplier
from tests.helpers.engine import (
    Simulated,
    assert_predicted,
    asset_states,
    fast_worker,
    history_counts,
)


async def test_expired_batch_applies_what_ran_and_fails_the_rest(simulated: Simulated) -> None:
    database_url, simulator = simulated.database_url, simulated.simulator
    batch_id, ids, report = await simulated.submit_and_apply(
        20, metadata={"sim_expire": "1"}, seconds=25 * 3600
    )

    assert simulator.batch(batch_id).status == "expired"
    assert report.applied[0].status == "expired"
    states = asset_states(database_url, ids)
    done = [i for i, s in states.items() if s["status"] == "completed"]
    failed = [i for i, s in states.items() if s["status"] == "failed"]
    assert done and failed and len(done) + len(failed) == len(ids)
    assert_predicted(states, done)
    assert all(states[i]["error"] for i in failed)
    assert set(history_counts(database_url, ids).values()) == {1}


async def test_cancelled_batch_applies_partial_output(simulated: Simulated) -> None:
    client, store = simulated.client, simulated.store
    database_url, simulator = simulated.database_url, simulated.simulator
    batch_id, ids = await simulated.submit_new(20, metadata={"sim_duration": "100"})
    simulator.advance(5 + 50)  # validating, then half of the processing time
    await client.cancel(batch_id)
    simulator.advance(60)
    await fast_worker(client, store).run_once()

    assert simulator.batch(batch_id).status == "cancelled"
    states = asset_states(database_url, ids)
    assert {s["status"] for s in states.values()} <= {"completed", "failed"}
    done = [i for i, s in states.items() if s["status"] == "completed"]
    assert 0 < len(done) < len(ids)
    assert_predicted(states, done)
    assert set(history_counts(database_url, ids).values()) == {1}


async def test_completed_with_no_output_file_fails_every_asset_with_its_error(
    simulated: Simulated,
) -> None:
    database_url, simulator = simulated.database_url, simulated.simulator
    batch_id, ids, _ = await simulated.submit_and_apply(10, metadata={"sim_fail_fraction": "1"})

    live = simulator.batch(batch_id)
    assert live.status == "completed" and live.output_file_id is None and live.error_file_id
    states = asset_states(database_url, ids)
    assert {s["status"] for s in states.values()} == {"failed"}
    assert all(s["error"] and s["error"] != UNRETURNED_REASON for s in states.values())


async def test_empty_error_file_id_is_no_file(simulated: Simulated) -> None:
    database_url, simulator = simulated.database_url, simulated.simulator
    batch_id, ids, report = await simulated.submit_and_apply(
        5, metadata={"sim_empty_error_file_id": "1"}
    )

    assert simulator.batch(batch_id).error_file_id == ""
    assert report.errors == {}
    assert_predicted(asset_states(database_url, ids), ids)


async def test_failed_validation_fails_every_asset_with_the_validation_error(
    simulated: Simulated,
) -> None:
    database_url, simulator = simulated.database_url, simulated.simulator
    batch_id, ids, _ = await simulated.submit_and_apply(6, metadata={"sim_fail_validation": "1"})

    assert simulator.batch(batch_id).status == "failed"
    states = asset_states(database_url, ids)
    assert {s["status"] for s in states.values()} == {"failed"}
    assert all(s["error"].startswith("batch failed validation") for s in states.values())


async def test_second_apply_changes_nothing(simulated: Simulated) -> None:
    client, store, database_url = simulated.client, simulated.store, simulated.database_url
    batch_id, ids = await simulated.submit_finished(25, metadata={"sim_fail_fraction": "0.2"})
    applier = BatchApplier(client, store)
    batch = await client.retrieve(batch_id)
    await store.record_statuses([batch.model_dump(mode="json")])
    first = await applier.apply(batch)
    before = asset_states(database_url, ids)

    again = await applier.apply(batch)
    forced = await applier.apply(batch, force=True)

    assert first.changed == len(ids)
    assert again.already_applied and again.changed == 0
    assert forced.changed == 0 and forced.counts.skipped == len(ids)
    assert asset_states(database_url, ids) == before
    assert set(history_counts(database_url, ids).values()) == {1}
