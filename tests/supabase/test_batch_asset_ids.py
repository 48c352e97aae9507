"""batch_asset_ids over PostgREST RPC: every id, one array, row-level security applied."""

from __future__ import annotations

from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import insert_assets
from tests.helpers.supabase import Users


async def test_each_user_gets_every_id_of_their_own_batch_only(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    alice = insert_assets(database_url, 1_200, user_id=users.alice.id, batch_id="batch_a")
    insert_assets(database_url, 3, user_id=users.bob.id, batch_id="batch_a")

    assert sorted(await alice_store.batch_asset_ids("batch_a")) == sorted(alice)
    assert len(await bob_store.batch_asset_ids("batch_a")) == 3
    assert await alice_store.batch_asset_ids("no_such_batch") == []
