"""A batch holding several users' assets must not stall the other users' sync passes.

The row of such a batch belongs to one user; row-level security refuses the others'
writes to it. They still watch it through their own assets, and one refused row must not
make every pass of theirs fail: it is left unrecorded and the rest is recorded.
"""

from __future__ import annotations

import json

from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import execute, insert_assets
from tests.helpers.supabase import Users


def _sim_batch(simulator: Simulator, asset_ids: list[str]) -> str:
    lines = "".join(
        json.dumps(
            {
                "custom_id": asset_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            }
        )
        + "\n"
        for asset_id in asset_ids
    )
    upload = simulator.upload_file(lines.encode(), "in.jsonl", "batch")
    batch = simulator.create_batch(input_file_id=upload["id"], endpoint="/v1/chat/completions")
    return str(batch["id"])


async def test_a_batch_owned_by_another_user_does_not_stall_the_pass(
    client: BatchClient,
    simulator: Simulator,
    database_url: str,
    users: Users,
    alice_store: SupabaseStore,
    bob_store: SupabaseStore,
) -> None:
    alice_assets = insert_assets(database_url, 1, user_id=users.alice.id)
    bob_shared = insert_assets(database_url, 1, user_id=users.bob.id)
    shared = _sim_batch(simulator, alice_assets + bob_shared)
    bob_own_assets = insert_assets(database_url, 1, user_id=users.bob.id)
    bob_own = _sim_batch(simulator, bob_own_assets)
    # Alice's desktop records the shared batch first: the row is hers.
    await alice_store.mark_submitted(simulator.get_batch(shared), alice_assets)
    await bob_store.mark_submitted(simulator.get_batch(bob_own), bob_own_assets)
    # The server-side app put one of Bob's assets into the same batch.
    execute(
        database_url,
        "update public.assets set auto_tag_status = 'pending', openai_batch_id = %s "
        "where id = %s::uuid",
        (shared, bob_shared[0]),
    )

    sync = BatchSync(client, bob_store)
    first = await sync.run()
    simulator.advance(3600)
    second = await sync.run()

    assert set(first.batches) == {shared, bob_own}
    assert {e.batch_id for e in second.events if e.kind == "completed"} == {shared, bob_own}
    mine = await bob_store.get_batch(bob_own)
    assert mine is not None and mine.status == "completed"
    theirs = await alice_store.get_batch(shared)
    assert theirs is not None and theirs.user_id == users.alice.id
