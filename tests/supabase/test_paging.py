"""Lists longer than PostgREST's db-max-rows (1,000 on Supabase) arrive whole, in order."""

from __future__ import annotations

from batchmon.engine.retry import plan_retry
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import execute, fetch_all, insert_assets, openai_batch
from tests.helpers.supabase import Users
from tests.supabase_gateway import Gateway

# Ten batches share each created_at and five have none: the cursor must not skip a tie.
_BATCHES = """
insert into public.openai_batches (id, user_id, status, created_at)
select 'batch_' || lpad(n::text, 5, '0'), %s, 'completed',
       case when n > 1495 then null else now() - make_interval(secs => n / 10) end
from generate_series(1, 1500) as n
"""


async def test_the_gateway_cuts_a_function_result_at_db_max_rows(
    alice_store: SupabaseStore, users: Users, database_url: str, gateway: Gateway
) -> None:
    execute(database_url, _BATCHES, (users.alice.id,))

    response = await alice_store.client.rpc("list_batches", {"p_limit": 5000}).execute()

    assert gateway.max_rows == 1000
    assert isinstance(response.data, list) and len(response.data) == 1000


async def test_the_desktop_lists_all_1500_batches_newest_first(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    execute(database_url, _BATCHES, (users.alice.id,))
    execute(
        database_url,
        "insert into public.openai_batches (id, user_id, status) values ('batch_bob', %s, 'done')",
        (users.bob.id,),
    )
    expected = [
        i
        for (i,) in fetch_all(
            database_url,
            "select id from public.openai_batches where user_id = %s"
            " order by created_at desc nulls last, id",
            (users.alice.id,),
        )
    ]

    rows = await alice_store.list_batches()

    assert [r.id for r in rows] == expected and len(rows) == 1500
    assert [r.id for r in await alice_store.list_batches(limit=1200)] == expected[:1200]
    assert [r.id for r in await bob_store.list_batches()] == ["batch_bob"]


async def test_a_retry_of_5000_assets_with_3000_failures_resubmits_all_3000(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = insert_assets(database_url, 5000, user_id=users.alice.id, batch_id="batch_big")
    failed, completed = ids[:3000], ids[3000:]
    execute(
        database_url,
        "update public.assets set auto_tag_status = case when id = any(%s::uuid[])"
        " then 'failed' else 'completed' end where openai_batch_id = 'batch_big'",
        (failed,),
    )
    done = openai_batch("batch_big", "completed", total=5000, completed=2000, failed=3000)
    await alice_store.record_statuses([done])
    await alice_store.finish_apply("batch_big", unreturned_reason="no result")

    plan = await plan_retry(alice_store, "batch_big")
    link = await alice_store.begin_retry(
        "batch_big", openai_batch("batch_big_2", "validating"), plan.asset_ids
    )

    assert sorted(plan.asset_ids) == sorted(failed)
    assert link.linked and link.moved_assets == 3000
    moved = fetch_all(
        database_url,
        "select count(*) from public.assets where openai_batch_id = 'batch_big_2'"
        " and auto_tag_status = 'pending'",
    )
    assert moved == [(3000,)]
    assert len(await alice_store.batch_assets("batch_big")) == len(completed)
