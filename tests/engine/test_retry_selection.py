"""Retry resubmits what can succeed; permanent failures go again only when asked for.

The simulator fails a scripted share of requests with ``invalid_image_url`` (HTTP 400:
resending it unchanged fails again) and, in an expired batch, leaves the rest with
``batch_expired`` error lines (worth another try).
"""

from __future__ import annotations

import json

import pytest

from batchmon.engine.retry import Retrier, RetryNotPossible, plan_retry
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.helpers.engine import asset_states, fast_worker, submit_new

FAILING = {"sim_fail_fraction": "0.3"}


async def _applied_with_failures(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> tuple[str, set[str]]:
    """A batch of 20 applied with its scripted invalid_image_url failures, and those."""
    batch_id, ids = await submit_new(client, store, database_url, 20, metadata=FAILING)
    simulator.advance(3600)
    await fast_worker(client, store).run_once()
    failed = {a for a, s in asset_states(database_url, ids).items() if s["status"] == "failed"}
    return batch_id, failed


async def _models(client: BatchClient, file_id: str) -> list[str]:
    return [json.loads(line)["body"]["model"] async for line in client.iter_output_lines(file_id)]


async def test_permanent_failures_are_listed_and_left_out_unless_included(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, failed = await _applied_with_failures(client, store, database_url, simulator)
    assert failed  # the scripted share

    default = await plan_retry(store, batch_id)
    included = await plan_retry(store, batch_id, include_permanent=True)

    assert default.asset_ids == []
    assert {a.id for a in default.left_out} == failed
    assert set(included.asset_ids) == failed and included.left_out == ()
    with pytest.raises(RetryNotPossible, match=r"permanent .*include them"):
        await Retrier(client, store).retry(batch_id)


async def test_a_retry_sends_the_expired_requests_and_lists_the_permanent_ones(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, ids = await submit_new(
        client, store, database_url, 40, metadata={**FAILING, "sim_expire": "0.5"}
    )
    simulator.advance(25 * 3600)
    await fast_worker(client, store).run_once()
    states = asset_states(database_url, ids)
    permanent = {a for a, s in states.items() if "HTTP 400" in (s["error"] or "")}
    expired = {a for a, s in states.items() if s["status"] == "failed"} - permanent
    assert permanent and expired

    result = await Retrier(client, store).retry(batch_id)

    assert result.asset_count == len(expired)
    assert set(result.left_out) == permanent
    assert "permanent failure(s) left out" in result.summary()
    assert await _models(client, result.new_batch.input_file_id) == ["gpt-4o-mini"] * len(expired)
    moved = asset_states(database_url, ids)
    assert {a for a, s in moved.items() if s["batch"] == result.new_batch.id} == expired
    assert all(moved[a]["status"] == "failed" for a in permanent)  # untouched


async def test_included_permanent_failures_go_again_too(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_id, failed = await _applied_with_failures(client, store, database_url, simulator)

    result = await Retrier(client, store).retry(batch_id, include_permanent=True)

    assert result.asset_count == len(failed) and result.left_out == {}


@pytest.mark.parametrize("code", ["rate_limit_exceeded", "server_error"])
async def test_requests_failed_by_a_rate_limit_or_server_error_go_again_by_default(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator, code: str
) -> None:
    batch_id, ids = await submit_new(
        client, store, database_url, 20, metadata={**FAILING, "sim_fail_code": code}
    )
    simulator.advance(3600)
    await fast_worker(client, store).run_once()
    failed = {a for a, s in asset_states(database_url, ids).items() if s["status"] == "failed"}
    assert failed and len(failed) < len(ids)

    plan = await plan_retry(store, batch_id)

    assert set(plan.asset_ids) == failed and plan.left_out == ()
