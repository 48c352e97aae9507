"""Every list function returns pages of at most 1,000 rows; PostgresStore reads them all."""

from __future__ import annotations

from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all


async def test_list_batches_follows_pages_past_1000(
    store: PostgresStore, database_url: str
) -> None:
    execute(
        database_url,
        "insert into public.openai_batches (id, status, created_at)"
        " select 'batch_' || n, 'completed', now() - make_interval(secs => n / 7)"
        " from generate_series(1, 1500) as n",
    )
    one_call = fetch_all(database_url, "select count(*) from public.list_batches(5000)")

    rows = await store.list_batches()

    assert one_call == [(1000,)]
    assert len({r.id for r in rows}) == 1500
    created = [r.created_at for r in rows if r.created_at is not None]
    assert len(created) == 1500 and created == sorted(created, reverse=True)


async def test_pending_batches_and_poll_runs_follow_pages_past_1000(
    store: PostgresStore, database_url: str
) -> None:
    execute(
        database_url,
        "insert into public.assets (openai_batch_id, auto_tag_status, created_at)"
        " select 'batch_' || mod(n, 1100), 'pending', now() - make_interval(secs => mod(n, 3))"
        " from generate_series(1, 2200) as n",
    )
    execute(
        database_url,
        "insert into public.batch_poll_runs (worker_id, started_at)"
        " select 'w', now() - make_interval(secs => n / 4) from generate_series(1, 1100) as n",
    )

    pending = await store.pending_batches()
    runs = await store.recent_poll_runs(limit=1050)

    assert len({p.batch_id for p in pending}) == 1100
    assert all(p.asset_count == 2 for p in pending)
    assert len({r.id for r in runs}) == 1050
    assert [r.started_at for r in runs] == sorted((r.started_at for r in runs), reverse=True)
