"""The assets never sent for tagging: only those, oldest first, every page, the caller's own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import create_job
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import as_user, execute, insert_assets

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())
DAY = datetime(2026, 3, 1, tzinfo=UTC)


async def test_only_assets_with_no_status_and_an_image_oldest_first(
    store: PostgresStore, database_url: str
) -> None:
    newer = insert_assets(database_url, 2, created_at=DAY + timedelta(hours=1), seed="newer")
    older = insert_assets(database_url, 2, created_at=DAY, seed="older")
    insert_assets(database_url, 2, batch_id="b1", seed="pending")
    insert_assets(database_url, 1, status="completed", seed="done")
    (no_image,) = insert_assets(database_url, 1, seed="no-image")
    execute(database_url, "update public.assets set image_url = null where id = %s", (no_image,))

    assert await store.untagged_asset_ids() == sorted(older) + sorted(newer)
    assert await store.untagged_count() == 4
    assert await store.untagged_asset_ids(limit=3) == (sorted(older) + sorted(newer))[:3]


async def test_assets_waiting_in_a_job_are_not_offered_again_until_it_lets_them_go(
    store: PostgresStore, database_url: str
) -> None:
    waiting = insert_assets(database_url, 4, created_at=DAY, seed="in-a-job")
    free = insert_assets(database_url, 2, created_at=DAY + timedelta(hours=1), seed="free")
    plan = await create_job(
        store, await store.assets_by_ids(waiting), "gpt-4o-mini", limits=PlanLimits(max_requests=2)
    )
    assert plan.batches == 2

    assert await store.untagged_asset_ids() == sorted(free)
    assert await store.untagged_count() == 2

    await store.cancel_job(plan.job_id)  # nothing was sent: its assets are free again
    assert await store.untagged_asset_ids() == sorted(waiting) + sorted(free)
    assert await store.untagged_count() == 6


async def test_more_than_a_page_is_read_to_the_end(store: PostgresStore, database_url: str) -> None:
    ids = insert_assets(database_url, 2_500, created_at=DAY)
    found = await store.untagged_asset_ids()
    assert found == sorted(ids)
    assert await store.untagged_count() == 2_500
    assert await store.untagged_asset_ids(limit=1_001) == found[:1_001]


def test_a_user_sees_only_their_own_and_anon_may_not_ask(database_url: str) -> None:
    alice = insert_assets(database_url, 3, user_id=ALICE, seed="alice")
    insert_assets(database_url, 2, user_id=BOB, seed="bob")
    with psycopg.connect(database_url, autocommit=True) as conn:
        with as_user(conn, ALICE):
            rows = conn.execute(b"select asset_id from public.untagged_assets()").fetchall()
            assert sorted(r[0] for r in rows) == sorted(alice)
            assert conn.execute(b"select public.untagged_asset_count()").fetchone() == (3,)
        for query in (
            b"select * from public.untagged_assets()",
            b"select public.untagged_asset_count()",
        ):
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                as_user(conn, None, role="anon"),
            ):
                conn.execute(query)
