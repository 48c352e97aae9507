"""Migrations: a fresh database, a database the app already uses, re-runs, races."""

from __future__ import annotations

import io
import threading
import uuid

import psycopg

from batchmon.store.migrate import available_migrations, main_sync, migrate_sync
from tests.fixtures.postgres import PgServer, fetch_all

ALL = [m.name for m in available_migrations()]

SEED_APP_SCHEMA = """
create table public.assets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  title text not null,
  image_url text,
  tags text[],
  auto_tag_status text,
  openai_batch_id text,
  created_at timestamptz not null default now()
);
insert into public.assets (user_id, title, image_url, tags, auto_tag_status, openai_batch_id,
                           created_at)
select gen_random_uuid(), 'photo ' || n, 'https://img.example.test/' || n || '.jpg',
       case when n % 3 = 0 then array['cat', 'sofa'] end,
       (array['pending', 'completed', 'failed', 'processing', null])[1 + n % 5],
       case when n % 5 = 0 then 'batch_seed_' || (n % 4) end,
       now() - make_interval(mins => n)
from generate_series(1, 250) as n;
"""


def _fresh(pg_server: PgServer) -> tuple[str, str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    return name, pg_server.create_database(name, template=None)


def test_fresh_database_gets_every_migration_and_a_rerun_is_a_no_op(pg_server: PgServer) -> None:
    name, url = _fresh(pg_server)
    try:
        assert migrate_sync(url) == ALL
        assert migrate_sync(url) == []
        tables = {
            t
            for (t,) in fetch_all(
                url, "select tablename from pg_tables where schemaname = 'public'"
            )
        }
        assert {"assets", "openai_batches", "batch_poll_runs", "asset_results"} <= tables
        recorded = fetch_all(url, "select name from public.batchmon_schema_migrations order by 1")
        assert [n for (n,) in recorded] == ALL
    finally:
        pg_server.drop_database(name)


def test_existing_seed_app_assets_keep_every_row_and_column(pg_server: PgServer) -> None:
    name, url = _fresh(pg_server)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SEED_APP_SCHEMA.encode())
        snapshot = """select id, user_id, title, image_url, tags, auto_tag_status,
                             openai_batch_id, created_at from public.assets order by id"""
        before = fetch_all(url, snapshot)

        assert migrate_sync(url) == ALL
        # Run every file again by hand, as a crash between a file and its record would.
        with psycopg.connect(url, autocommit=True) as conn:
            for migration in available_migrations():
                conn.execute(migration.sql.encode())

        assert fetch_all(url, snapshot) == before
        assert len(before) == 250
        columns = {
            c
            for (c,) in fetch_all(
                url,
                "select column_name from information_schema.columns "
                "where table_schema = 'public' and table_name = 'assets'",
            )
        }
        assert {"auto_tag_error", "tagged_at", "title"} <= columns
        # The seed app's pending assets are visible to the monitoring query at once.
        pending = fetch_all(url, "select batch_id, asset_count from public.pending_batches()")
        expected = fetch_all(
            url,
            "select openai_batch_id, count(*) from public.assets where auto_tag_status = "
            "'pending' and openai_batch_id is not null group by 1",
        )
        assert sorted(pending) == sorted(expected)
    finally:
        pg_server.drop_database(name)


def test_new_rows_must_use_a_known_status_even_on_a_legacy_table(pg_server: PgServer) -> None:
    name, url = _fresh(pg_server)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SEED_APP_SCHEMA.encode())
        migrate_sync(url)
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                conn.execute(
                    "insert into public.assets (title, auto_tag_status) values ('x', 'bogus')"
                )
            except psycopg.errors.CheckViolation:
                pass
            else:
                raise AssertionError("an unknown auto_tag_status was accepted")
    finally:
        pg_server.drop_database(name)


def test_two_processes_migrating_at_once_apply_each_file_exactly_once(
    pg_server: PgServer,
) -> None:
    name, url = _fresh(pg_server)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            results.append(migrate_sync(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        applied = [n for r in results for n in r]
        assert sorted(applied) == ALL
        assert [n for (n,) in fetch_all(url, "select name from batchmon_schema_migrations")] != []
    finally:
        pg_server.drop_database(name)


def test_cli_entry_point_reports_what_it_did(pg_server: PgServer) -> None:
    name, url = _fresh(pg_server)
    try:
        out = io.StringIO()
        assert main_sync(url, out=out) == 0
        assert out.getvalue().splitlines() == [f"applied {n}" for n in ALL]
        out = io.StringIO()
        assert main_sync(url, out=out) == 0
        assert out.getvalue().strip() == "database is up to date"
    finally:
        pg_server.drop_database(name)


def test_unreachable_database_gives_a_clear_error_without_the_password() -> None:
    out, err = io.StringIO(), io.StringIO()
    url = "postgresql://app:s3cret-pw@127.0.0.1:1/appdb?connect_timeout=2"
    assert main_sync(url, out=out, err=err) == 1
    message = err.getvalue()
    assert "cannot connect to the database at app@127.0.0.1:1/appdb" in message
    assert "s3cret-pw" not in message
