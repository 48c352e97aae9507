"""Migrations: a fresh database, a database the app already uses, re-runs, races."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from batchmon.store.migrate import (
    applied_migrations,
    available_migrations,
    main_sync,
    migrate_sync,
)
from batchmon.store.postgres import PostgresStore
from batchmon.store.protocol import ResultRow, StoreError
from tests.fixtures.postgres import PgServer, execute, fetch_all, insert_assets, openai_batch

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


@pytest.fixture
def url(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database (no batchmon schema), dropped after the test."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name, template=None)
    pg_server.drop_database(name)


@pytest.fixture
def seed_app(url: str) -> None:
    """``url`` holds the seed app's own ``assets`` table and rows, not yet migrated."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_APP_SCHEMA.encode())


def test_fresh_database_gets_every_migration_and_a_rerun_is_a_no_op(url: str) -> None:
    assert migrate_sync(url) == ALL
    assert migrate_sync(url) == []
    tables = {
        t for (t,) in fetch_all(url, "select tablename from pg_tables where schemaname = 'public'")
    }
    assert {"assets", "openai_batches", "batch_poll_runs", "asset_results"} <= tables
    recorded = fetch_all(url, "select name from public.batchmon_schema_migrations order by 1")
    assert [n for (n,) in recorded] == ALL


@pytest.mark.usefixtures("seed_app")
def test_existing_seed_app_assets_keep_every_row_and_column(url: str) -> None:
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


@pytest.mark.usefixtures("seed_app")
def test_new_rows_must_use_a_known_status_even_on_a_legacy_table(url: str) -> None:
    migrate_sync(url)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("insert into public.assets (title, auto_tag_status) values ('x', 'bogus')")
        except psycopg.errors.CheckViolation:
            pass
        else:
            raise AssertionError("an unknown auto_tag_status was accepted")


def test_the_privileges_script_runs_last_and_again_whenever_it_or_a_numbered_file_changes(
    url: str,
) -> None:
    assert ALL[-1] == "privileges.sql" and all(n[:3].isdigit() for n in ALL[:-1])
    migrate_sync(url)
    anon_may_list = (
        "select has_function_privilege('anon',"
        " 'public.list_batches(integer, timestamptz, text)', 'EXECUTE')"
    )
    execute(url, "grant execute on function public.list_batches to anon")
    assert fetch_all(url, anon_may_list) == [(True,)]

    forget = "update public.batchmon_schema_migrations set checksum = 'old' where name = %s"
    execute(url, forget, ("privileges.sql",))
    assert migrate_sync(url) == ["privileges.sql"]
    assert fetch_all(url, anon_may_list) == [(False,)]

    # An edited numbered file is applied again, with every file after it.
    execute(url, "grant execute on function public.list_batches to anon")
    execute(url, forget, ("004_functions.sql",))
    assert migrate_sync(url) == ALL[ALL.index("004_functions.sql") :]
    assert fetch_all(url, anon_may_list) == [(False,)]
    assert migrate_sync(url) == []


# Every function (body and privileges), relation (privileges) and policy in public; the
# privileges in a fixed order, which the catalog does not keep.
_CATALOG = """
select 'function', p.oid::regprocedure::text, p.prosrc,
       array(select a::text from unnest(p.proacl) as a order by 1)::text
from pg_proc p where p.pronamespace = 'public'::regnamespace
union all
select 'relation', c.relname, c.relkind::text,
       array(select a::text from unnest(c.relacl) as a order by 1)::text
from pg_class c where c.relnamespace = 'public'::regnamespace
union all
select 'policy', tablename || '.' || policyname, cmd, roles::text || qual || with_check
from pg_policies where schemaname = 'public'
order by 1, 2
"""


def test_every_numbered_file_edited_since_it_ran_is_applied_again_to_the_same_objects(
    url: str,
) -> None:
    migrate_sync(url)
    before = fetch_all(url, _CATALOG)

    execute(url, "update public.batchmon_schema_migrations set checksum = 'an earlier edit'")
    assert migrate_sync(url) == ALL

    assert fetch_all(url, _CATALOG) == before


def test_two_processes_migrating_at_once_apply_each_file_exactly_once(url: str) -> None:
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
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [n for r in results for n in r]
    assert sorted(applied) == ALL
    assert [n for (n,) in fetch_all(url, "select name from batchmon_schema_migrations")] != []


def test_cli_entry_point_reports_what_it_did(url: str) -> None:
    out = io.StringIO()
    assert main_sync(url, out=out) == 0
    assert out.getvalue().splitlines() == [f"applied {n}" for n in ALL]
    out = io.StringIO()
    assert main_sync(url, out=out) == 0
    assert out.getvalue().strip() == "database is up to date"


def test_unreachable_database_gives_a_clear_error_without_the_password() -> None:
    out, err = io.StringIO(), io.StringIO()
    url = "postgresql://app:s3cret-pw@127.0.0.1:1/appdb?connect_timeout=2"
    assert main_sync(url, out=out, err=err) == 1
    message = err.getvalue()
    assert "cannot connect to the database at app@127.0.0.1:1/appdb" in message
    assert "s3cret-pw" not in message


def _batchmon_objects(url: str) -> list[tuple[str, ...]]:
    """What a migration would leave behind: tables, functions, RLS on assets, columns."""
    return fetch_all(
        url,
        """
        select 'relation', c.relname, c.relrowsecurity::text from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v')
        union all
        select 'function', p.proname, '' from pg_proc p
        where p.pronamespace = 'public'::regnamespace
        union all
        select 'column', a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a
        where a.attrelid = to_regclass('public.assets') and a.attnum > 0
        order by 1, 2
        """,
    )


def test_an_app_table_that_does_not_fit_is_named_before_anything_changes(
    url: str,
) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            b"create type tag_state as enum ('new', 'done');"
            b"create table public.assets (id bigint primary key, tags text,"
            b" auto_tag_status tag_state, title text)"
        )
    before = _batchmon_objects(url)

    with pytest.raises(StoreError) as refused:
        migrate_sync(url)

    message = str(refused.value)
    assert "nothing was changed" in message and "\n" not in message
    assert "id is bigint (batchmon needs uuid)" in message
    assert "tags is text (batchmon needs text[] or jsonb)" in message
    assert "auto_tag_status is tag_state (batchmon needs text)" in message
    assert _batchmon_objects(url) == before


def test_a_migration_failing_half_way_leaves_the_database_as_it_was(
    url: str,
) -> None:
    # A table where 004 creates a view: 001-003 apply, then 004 fails.
    execute(url, "create table public.batch_overview (id text)")
    before = _batchmon_objects(url)

    with pytest.raises(StoreError, match=r"migration 004_functions.sql failed, nothing"):
        migrate_sync(url)

    assert _batchmon_objects(url) == before
    assert applied_migrations(url) == []
    execute(url, "drop table public.batch_overview")
    assert migrate_sync(url) == ALL


async def test_an_app_with_jsonb_tags_migrates_and_applies_tags_as_a_json_array(
    url: str,
) -> None:
    execute(
        url,
        "create table public.assets (id uuid primary key default gen_random_uuid(),"
        " user_id uuid, tags jsonb, auto_tag_status text, openai_batch_id text,"
        " created_at timestamptz not null default now());"
        ' insert into public.assets (tags) values (\'{"not": "a list"}\')',
    )
    assert migrate_sync(url) == ALL
    ids = insert_assets(url, 2, batch_id="batch_j")
    store = await PostgresStore.open(url)
    try:
        await store.record_statuses([openai_batch("batch_j", "completed", total=2)])
        counts = await store.apply_results(
            "batch_j", [ResultRow(ids[0], True, ["cat", "sofa"]), ResultRow(ids[1], False)]
        )
        listed = {a.id: a.tags for a in await store.batch_assets("batch_j")}
        legacy = await store.assets_by_ids(
            [i for (i,) in fetch_all(url, "select id::text from assets where tags ? 'not'")]
        )
    finally:
        await store.close()

    assert (counts.completed, counts.failed) == (1, 1)
    stored = fetch_all(url, "select tags from public.assets where id = %s", (ids[0],))
    assert stored == [(["cat", "sofa"],)]  # a JSON array in the jsonb column
    assert listed == {ids[0]: ["cat", "sofa"], ids[1]: None}
    assert [a.tags for a in legacy] == [None]
