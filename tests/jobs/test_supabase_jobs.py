"""Jobs through Supabase's REST API as signed-in users: the same SQL API, under RLS."""

from __future__ import annotations

from datetime import timedelta

from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import insert_assets, openai_batch
from tests.helpers.supabase import Users

LEASE = timedelta(minutes=5)
MODEL = "gpt-4o-mini"


async def test_each_user_plans_claims_and_sees_only_their_own_jobs(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = insert_assets(database_url, 12_000, user_id=users.alice.id)  # three pages of ids
    job_id = await alice_store.create_job(
        MODEL, "/v1/chat/completions", max_cost=5.0, planning=True, image_size=(512, 512)
    )
    await alice_store.add_job_batch(job_id, ids, estimated_tokens=900, estimated_cost=1.0)
    await alice_store.add_job_batch(job_id, ids[:10], estimated_tokens=900, estimated_cost=1.0)
    assert not await bob_store.start_job(job_id)  # not his to open
    assert await alice_store.start_job(job_id)

    assert await bob_store.job_summaries() == []
    assert await bob_store.get_job(job_id) is None
    assert await bob_store.claim_job_batch("w-bob", lease=LEASE, default_limits={}) is None
    (summary,) = await alice_store.job_summaries()
    assert (summary.id, summary.user_id, summary.max_cost) == (job_id, users.alice.id, 5.0)
    assert summary.image_size == (512, 512)
    assert summary.batches_queued == 2

    claimed = await alice_store.claim_job_batch(
        "w-alice", lease=LEASE, default_limits={MODEL: 1000}
    )
    assert claimed is not None and sorted(claimed.asset_ids) == sorted(ids)
    assert (
        await alice_store.claim_job_batch("w-alice", lease=LEASE, default_limits={MODEL: 1000})
        is None
    )  # 900 in flight: the next 900 would pass 1,000
    moved, cancelled = await alice_store.record_job_batch_created(
        claimed.id, openai_batch("batch_alice_1")
    )
    assert (moved, cancelled) == (12_000, False)
    batches = await alice_store.job_batches(job_id)
    assert [(b.ordinal, b.state, b.openai_batch_id) for b in batches] == [
        (1, "submitted", "batch_alice_1"),
        (2, "queued", None),
    ]
    await alice_store.record_statuses([openai_batch("batch_alice_1", "expired")])
    (ended,) = await alice_store.ended_job_batches()  # what the submitter estimates with
    assert (ended.id, ended.image_size) == (claimed.id, (512, 512))
    assert await bob_store.ended_job_batches() == []

    cancel = await alice_store.cancel_job(job_id)
    assert (cancel.dropped, cancel.running) == (1, ("batch_alice_1",))


async def test_a_learned_limit_is_shared_by_every_signed_in_user(
    alice_store: SupabaseStore, bob_store: SupabaseStore
) -> None:
    await alice_store.set_model_limit(MODEL, 2_000_000, source="learned")
    (limit,) = await bob_store.model_limits()
    assert (limit.model, limit.enqueued_token_limit, limit.source) == (MODEL, 2_000_000, "learned")
    assert await bob_store.clear_model_limit(MODEL) is True  # back to the default for all
    assert await alice_store.model_limits() == []
    assert await alice_store.clear_model_limit(MODEL) is False
