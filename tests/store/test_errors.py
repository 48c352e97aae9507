"""Errors a person can act on: unreachable server, missing schema, closed store."""

from __future__ import annotations

import uuid

import pytest

from batchmon.store import StoreError
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import PgServer


async def test_opening_an_unmigrated_database_says_to_run_migrate(pg_server: PgServer) -> None:
    name = f"e_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=None)
    try:
        with pytest.raises(StoreError, match="batchmon db migrate --database-url"):
            await PostgresStore.open(url)
    finally:
        pg_server.drop_database(name)


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql://worker:hunter2-secret@127.0.0.1:1/app"
    with pytest.raises(StoreError) as error:
        await PostgresStore.open(url, connect_timeout=2)
    message = str(error.value)
    assert "cannot connect to the database at worker@127.0.0.1:1/app" in message
    assert "hunter2-secret" not in message


async def test_calls_after_close_fail_clearly(database_url: str) -> None:
    store = await PostgresStore.open(database_url)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.pending_batches()


async def test_bad_input_is_a_store_error_and_changes_nothing(store: PostgresStore) -> None:
    with pytest.raises(StoreError, match="has no id"):
        await store.mark_submitted({"status": "validating"}, [])
    assert await store.list_batches() == []


@pytest.mark.parametrize("url", ["this is not a database url", "postgresql://u:pw@[/db"])
async def test_a_malformed_url_says_what_a_url_looks_like(url: str) -> None:
    with pytest.raises(StoreError, match="database URL is not valid") as error:
        await PostgresStore.open(url)
    assert "pw" not in str(error.value)
