"""`batchmon db migrate` on a database set up like a fresh Supabase project, and the API
called the way PostgREST calls it: authenticator login, ``set local role``, claims."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from batchmon.store.migrate import available_migrations, migrate_sync
from tests.fixtures.postgres import PgServer, execute, fetch_all, insert_assets, openai_batch
from tests.fixtures.supabase_project import (
    AUTHENTICATOR,
    OWNER,
    SupabaseProject,
    create_supabase_database,
)


@pytest.fixture
def fresh_project(pg_server: PgServer) -> Iterator[SupabaseProject]:
    """A Supabase-shaped database with the seed app, not yet migrated."""
    name = f"f_{uuid.uuid4().hex[:12]}"
    create_supabase_database(pg_server, name)
    try:
        yield SupabaseProject(pg_server, name)
    finally:
        pg_server.drop_database(name)


def test_migrate_as_the_project_owner_applies_everything_once(
    fresh_project: SupabaseProject,
) -> None:
    names = [m.name for m in available_migrations()]

    assert migrate_sync(fresh_project.owner_url) == names
    assert migrate_sync(fresh_project.owner_url) == []
    published = fetch_all(
        fresh_project.admin_url,
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
        " order by 1",
    )
    assert published == [("batchmon_asset_changes",), ("openai_batches",)]
    owner = fetch_all(
        fresh_project.admin_url,
        "select rolsuper, rolbypassrls from pg_roles where rolname = %s",
        (OWNER,),
    )
    assert owner == [(False, True)]


def test_a_project_that_published_assets_keeps_it_when_the_migration_runs_again(
    fresh_project: SupabaseProject,
) -> None:
    """Earlier migrations published ``assets``; the app may rely on it, so it stays."""
    migrate_sync(fresh_project.owner_url)
    execute(fresh_project.admin_url, "alter publication supabase_realtime add table public.assets")
    execute(
        fresh_project.admin_url,
        "update public.batchmon_schema_migrations set checksum = 'edited'"
        " where name = '005_change_notifications.sql'",
    )

    assert "005_change_notifications.sql" in migrate_sync(fresh_project.owner_url)
    published = fetch_all(
        fresh_project.admin_url,
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
        " order by 1",
    )
    assert published == [("assets",), ("batchmon_asset_changes",), ("openai_batches",)]


def test_apply_twice_in_one_transaction_as_authenticated_through_the_authenticator_login(
    supabase_project: SupabaseProject,
) -> None:
    user = str(uuid.uuid4())
    ids = insert_assets(supabase_project.admin_url, 3, user_id=user, batch_id="batch_s")
    rows = [{"asset_id": i, "ok": True, "tags": ["cat"]} for i in ids]
    with psycopg.connect(supabase_project.authenticator_url) as conn:
        assert conn.info.parameter_status("session_authorization") == AUTHENTICATOR
        conn.execute("set local role authenticated")
        claims = json.dumps({"sub": user, "role": "authenticated"})
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute(
            "select public.record_batch_statuses(%s::jsonb)",
            (json.dumps([openai_batch("batch_s", "completed", total=3)]),),
        )
        first = conn.execute(
            "select * from public.apply_batch_results('batch_s', %s::jsonb)",
            (json.dumps(rows[:2]),),
        ).fetchall()
        second = conn.execute(
            "select * from public.apply_batch_results('batch_s', %s::jsonb)",
            (json.dumps(rows),),
        ).fetchall()

    assert first == [(2, 0, 0)] and second == [(1, 0, 2)]
    done = fetch_all(
        supabase_project.admin_url,
        "select count(*) from public.assets where auto_tag_status = 'completed'",
    )
    assert done == [(3,)]


def test_the_authenticator_login_refuses_a_delete_or_update_without_where(
    supabase_project: SupabaseProject,
) -> None:
    with psycopg.connect(supabase_project.authenticator_url, autocommit=True) as conn:
        conn.execute("create temp table scratch (x int)")
        conn.execute("insert into scratch values (1)")
        for statement in ("delete from scratch", "update scratch set x = 2"):
            with pytest.raises(psycopg.errors.CardinalityViolation, match="requires a WHERE"):
                conn.execute(statement.encode())
        body = "begin delete from scratch; end"
        with pytest.raises(psycopg.errors.CardinalityViolation):
            conn.execute(f"do $$ {body} $$".encode())  # inside PL/pgSQL too
        conn.execute("delete from scratch where x = 1")
    with psycopg.connect(supabase_project.admin_url, autocommit=True) as conn:
        conn.execute("create temp table scratch (x int)")
        conn.execute("delete from scratch")  # other logins are not affected
