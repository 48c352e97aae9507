"""Untagged assets over PostgREST RPC: each signed-in user their own, every page; anon nothing."""

from __future__ import annotations

import pytest

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import create_job
from batchmon.store.protocol import PermissionDenied
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import insert_assets
from tests.helpers.supabase import StoreFactory, Users


async def test_each_user_gets_only_their_own_untagged_assets_past_the_row_limit(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    alice = insert_assets(database_url, 1_200, user_id=users.alice.id, seed="alice")
    bob = insert_assets(database_url, 3, user_id=users.bob.id, seed="bob")
    insert_assets(database_url, 2, user_id=users.bob.id, batch_id="batch_b", seed="sent")

    found = await alice_store.untagged_asset_ids()
    assert len(found) == 1_200 and sorted(found) == sorted(alice)  # PostgREST cuts at 1,000
    assert await alice_store.untagged_count() == 1_200
    assert await alice_store.untagged_asset_ids(limit=1_001) == found[:1_001]
    assert sorted(await bob_store.untagged_asset_ids()) == sorted(bob)
    assert await bob_store.untagged_count() == 3


async def test_a_users_assets_waiting_in_their_job_are_not_offered_again(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    waiting = insert_assets(database_url, 3, user_id=users.alice.id, seed="queued")
    free = insert_assets(database_url, 2, user_id=users.alice.id, seed="free")
    plan = await create_job(
        alice_store,
        await alice_store.assets_by_ids(waiting),
        "gpt-4o-mini",
        limits=PlanLimits(max_requests=2),
    )
    assert plan.batches == 2

    assert sorted(await alice_store.untagged_asset_ids()) == sorted(free)
    assert await alice_store.untagged_count() == 2


async def test_signed_out_gets_nothing(open_store: StoreFactory, database_url: str) -> None:
    insert_assets(database_url, 2)
    anon = await open_store()
    with pytest.raises(PermissionDenied):
        await anon.untagged_asset_ids()
    with pytest.raises(PermissionDenied):
        await anon.untagged_count()
