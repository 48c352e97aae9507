"""The queue in SQL: planned batches are claimed in order, only while their model has room."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batchmon.store import StoreError
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all, insert_assets, openai_batch

LEASE = timedelta(minutes=5)


async def _job(store: PostgresStore, database_url: str, tokens: list[int], **job: object) -> str:
    job_id = await store.create_job("gpt-4o-mini", "/v1/chat/completions", **job)  # type: ignore[arg-type]
    for t in tokens:
        ids = insert_assets(database_url, 2)
        await store.add_job_batch(job_id, ids, estimated_tokens=t, estimated_cost=0.5)
    return job_id


async def test_claims_follow_the_job_order_and_stop_at_the_limit(
    store: PostgresStore, database_url: str
) -> None:
    await _job(store, database_url, [400, 400, 400])
    limits = {"gpt-4o-mini": 1000}
    first = await store.claim_job_batch("w1", lease=LEASE, default_limits=limits)
    second = await store.claim_job_batch("w1", lease=LEASE, default_limits=limits)
    third = await store.claim_job_batch("w1", lease=LEASE, default_limits=limits)

    assert first is not None and second is not None
    assert (first.ordinal, second.ordinal) == (1, 2)
    assert third is None  # 800 in flight + 400 would pass 1,000
    assert len(first.asset_ids) == 2 and first.retry_token == f"jb_{first.id}_1"
    summary = (await store.job_summaries())[0]
    assert (summary.batches_queued, summary.batches_running) == (1, 2)
    assert summary.tokens_enqueued == 800


async def test_a_refused_batch_waits_its_backoff_and_keeps_its_place(
    store: PostgresStore, database_url: str
) -> None:
    await _job(store, database_url, [400, 400])
    claimed = await store.claim_job_batch("w1", lease=LEASE, default_limits={})
    assert claimed is not None
    await store.record_job_batch_created(claimed.id, openai_batch("batch_a"))
    refused = await store.record_job_batch_refused(
        claimed.id, "queue full", retry_in=timedelta(hours=1)
    )

    assert refused
    # Ordinal 1 waits; ordinal 2 does not jump ahead of it.
    assert await store.claim_job_batch("w1", lease=LEASE, default_limits={}) is None
    execute_now(database_url, claimed.id)
    again = await store.claim_job_batch("w1", lease=LEASE, default_limits={})
    assert again is not None and again.id == claimed.id
    assert again.retry_token == f"jb_{claimed.id}_2"  # a new submission, a new token
    await store.record_job_batch_created(again.id, openai_batch("batch_b"))
    # The assets moved from the refused batch to the new one.
    assert fetch_all(
        database_url,
        "select distinct openai_batch_id from public.assets where id = any(%s::uuid[])",
        (list(again.asset_ids),),
    ) == [("batch_b",)]


def execute_now(database_url: str, job_batch_id: int) -> None:
    execute(
        database_url,
        "update public.batchmon_job_batches set next_attempt_at = now() where id = %s",
        (job_batch_id,),
    )


async def test_a_learned_limit_outranks_the_default(
    store: PostgresStore, database_url: str
) -> None:
    await _job(store, database_url, [400, 400])
    await store.set_model_limit("gpt-4o-mini", 500, source="learned")
    assert await store.claim_job_batch("w1", lease=LEASE, default_limits={"gpt-4o-mini": 10**6})
    assert await store.claim_job_batch("w1", lease=LEASE, default_limits={}) is None
    (limit,) = await store.model_limits()
    assert (limit.model, limit.enqueued_token_limit, limit.source) == (
        "gpt-4o-mini",
        500,
        "learned",
    )
    assert limit.tokens_enqueued == 400


async def test_jobs_take_turns_and_the_budget_stops_a_job(
    store: PostgresStore, database_url: str
) -> None:
    a = await _job(store, database_url, [10, 10, 10])
    b = await _job(store, database_url, [10, 10], max_cost=0.6)
    order = []
    while (
        claimed := await store.claim_job_batch("w1", lease=LEASE, default_limits={})
    ) is not None:
        order.append((claimed.job_id, claimed.ordinal))

    # Round-robin between the two jobs; b stops after one batch (0.5 + 0.5 > 0.6).
    assert order == [(a, 1), (b, 1), (a, 2), (a, 3)]


async def test_a_big_batch_is_stored_in_pages_and_queued_only_when_complete(
    store: PostgresStore, database_url: str
) -> None:
    job_id = await store.create_job("gpt-4o-mini", "/v1/chat/completions", planning=True)
    ids = insert_assets(database_url, 12_000)
    batch_id = await store.add_job_batch(job_id, ids, estimated_tokens=1)
    assert await store.claim_job_batch("w1", lease=LEASE, default_limits={}) is None  # planning
    assert await store.start_job(job_id) and not await store.start_job(job_id)
    claimed = await store.claim_job_batch("w1", lease=LEASE, default_limits={})

    assert claimed is not None and claimed.id == batch_id
    assert sorted(claimed.asset_ids) == sorted(ids)


async def test_cancel_drops_queued_batches_and_names_the_running_ones(
    store: PostgresStore, database_url: str
) -> None:
    job_id = await _job(store, database_url, [10, 10, 10])
    claimed = await store.claim_job_batch("w1", lease=LEASE, default_limits={})
    assert claimed is not None
    await store.record_job_batch_created(claimed.id, openai_batch("batch_run"))
    cancel = await store.cancel_job(job_id)

    assert (cancel.dropped, cancel.running) == (2, ("batch_run",))
    assert await store.claim_job_batch("w1", lease=LEASE, default_limits={}) is None
    job = await store.get_job(job_id)
    assert job is not None and job.status == "cancelled"


async def test_a_job_keeps_the_image_size_it_was_planned_with(store: PostgresStore) -> None:
    sized = await store.create_job("gpt-4o-mini", "/v1/chat/completions", image_size=(512, 768))
    unsized = await store.create_job("gpt-4o-mini", "/v1/chat/completions")

    assert {j.id: j.image_size for j in await store.job_summaries()} == {
        sized: (512, 768),
        unsized: None,
    }
    job = await store.get_job(sized)
    assert job is not None and job.image_size == (512, 768)
    for bad in ((0, 512), (512, -1)):
        with pytest.raises(StoreError, match="image_size"):
            await store.create_job("gpt-4o-mini", "/v1/chat/completions", image_size=bad)
