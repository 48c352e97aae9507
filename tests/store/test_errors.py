"""Errors a person can act on: unreachable server, missing schema, closed store."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from batchmon.store import PermissionDenied, RetryRefused, StoreError
from batchmon.store.errors import from_sqlstate, require_migrated
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
    assert isinstance(error.value.__cause__, psycopg.OperationalError)  # the driver's cause


async def test_an_unreachable_server_reads_as_one_clean_line() -> None:
    """libpq's tab-indented hint joins the reason as a sentence: no tab, no doubled stop."""
    with pytest.raises(StoreError) as error:
        await PostgresStore.open("postgresql://worker@127.0.0.1:1/app", connect_timeout=2)
    message = str(error.value)
    assert "127.0.0.1:1/app: Connection refused. Is the server running" in message
    assert "\t" not in message and "\n" not in message
    assert "?." not in message and ".." not in message
    assert "port 1 failed" not in message  # the prefix says again where it points


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


async def test_a_database_with_tables_but_no_functions_is_not_migrated(
    pg_server: PgServer,
) -> None:
    # What a half-finished migration used to leave: the settings dialog called it fine.
    name = f"e_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=None)
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("create table public.openai_batches (id text primary key)")
            with pytest.raises(StoreError, match=r"schema is not installed.*batchmon db migrate"):
                await require_migrated(conn, url)
    finally:
        pg_server.drop_database(name)


def test_both_transports_map_a_sqlstate_to_the_same_error() -> None:
    denied = from_sqlstate("42501", "permission denied for table assets")
    missing = from_sqlstate("PGRST202", "Could not find the function public.list_batches")
    refused = from_sqlstate("BM001", "already retried", detail="batch_2", batch_id="batch_1")

    assert isinstance(denied, PermissionDenied)
    assert "batchmon db migrate" in str(missing)
    assert isinstance(refused, RetryRefused) and refused.retried_by == "batch_2"
