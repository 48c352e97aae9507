"""The ids of a batch's assets: what apply accepts lines for, all of them, only the caller's."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import as_user, insert_assets

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


async def test_every_asset_of_the_batch_whatever_its_status_and_no_other(
    store: PostgresStore, database_url: str
) -> None:
    pending = insert_assets(database_url, 3, batch_id="b1")
    done = insert_assets(database_url, 2, batch_id="b1", status="completed")
    insert_assets(database_url, 2, batch_id="b2")
    insert_assets(database_url, 2)

    assert sorted(await store.batch_asset_ids("b1")) == sorted(pending + done)
    assert await store.batch_asset_ids("no-such-batch") == []


async def test_more_ids_than_batch_assets_lists_are_all_returned(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 1_200, batch_id="big")
    assert len(await store.batch_assets("big", limit=1_000)) == 1_000
    assert sorted(await store.batch_asset_ids("big")) == sorted(ids)


def test_a_user_gets_only_their_own_ids_and_anon_may_not_ask(database_url: str) -> None:
    alice = insert_assets(database_url, 2, user_id=ALICE, batch_id="shared")
    insert_assets(database_url, 2, user_id=BOB, batch_id="shared")
    query = b"select public.batch_asset_ids('shared')"
    with psycopg.connect(database_url, autocommit=True) as conn:
        with as_user(conn, ALICE):
            row = conn.execute(query).fetchone()
            assert row is not None and sorted(row[0]) == sorted(alice)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, None, role="anon"):
            conn.execute(query)
