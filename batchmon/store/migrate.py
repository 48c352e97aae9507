"""Apply batchmon's SQL migrations: the numbered files (``sql/NNN_*.sql``) in order, then
the repeatable ones (``sql/privileges.sql``).

All pending migrations run in one transaction under a transaction-level advisory lock:
a run applies every file or, when one fails, none (the database is left as it was), and
two processes migrating the same database at once take turns, so a pending file is
applied once per change; applied names and checksums are recorded in
``batchmon_schema_migrations``.

A numbered file is pending when it is not recorded, or recorded with another checksum
(nothing is released yet, so a file may still be edited, and an edited one is applied
again, with every numbered file after it). A repeatable file is pending when its
checksum changed, or when a numbered file ran in the same transaction: new functions
and tables come with the default privileges, which the privileges script then takes
back. Before the first change, an existing app ``assets`` table is checked for columns
batchmon cannot use (:mod:`batchmon.store.preflight`). Every file is safe to re-run
(``IF NOT EXISTS``, ``CREATE OR REPLACE``), so a database the app already uses (an
existing ``assets`` table with rows) is extended, never rebuilt.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import TextIO

import psycopg

from batchmon.store.errors import connect_error, translate
from batchmon.store.preflight import assets_misfits
from batchmon.store.protocol import StoreError

VERSION_TABLE = "batchmon_schema_migrations"
# pg_advisory_xact_lock key: the bytes of "batchmon" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"batchmon", "big", signed=True)
_NUMBERED = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")
_REPEATABLE = re.compile(r"^[a-z][a-z0-9_]*\.sql$")

# The log is for the migrating role only: with RLS on and no policy, and no grants to
# the API roles, no key reaches it through PostgREST (Supabase's default privileges
# would otherwise let the anon key add a row and make the next migrate skip a file).
_CREATE_VERSION_TABLE = f"""
create table if not exists public.{VERSION_TABLE} (
  name text primary key,
  checksum text not null,
  applied_at timestamptz not null default now()
);
alter table public.{VERSION_TABLE} enable row level security;
revoke all on public.{VERSION_TABLE} from public;
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      execute format('revoke all on public.{VERSION_TABLE} from %I', r);
    end if;
  end loop;
end
$$"""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def repeatable(self) -> bool:
        """Not numbered: applied after the numbered files, again whenever it is pending."""
        return _REPEATABLE.match(self.name) is not None


def available_migrations() -> list[Migration]:
    """The migrations shipped with this version of batchmon, in the order they apply."""
    folder = resources.files("batchmon.store") / "sql"
    found = [
        Migration(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    for migration in found:
        if not (_NUMBERED.match(migration.name) or migration.repeatable):
            raise StoreError(
                f"migration file {migration.name!r} is not named NNN_name.sql or name.sql"
            )
    return sorted(found, key=lambda m: (m.repeatable, m.name))


def applied_migrations(conninfo: str) -> list[str]:
    """Names already recorded in the version table (empty for a fresh database)."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute("select to_regclass(%s)", (f"public.{VERSION_TABLE}",))
            row = exists.fetchone()
            if row is None or row[0] is None:
                return []
            cur = conn.execute(f"select name from public.{VERSION_TABLE} order by name")
            return [name for (name,) in cur.fetchall()]
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        raise connect_error(conninfo, exc) from exc


def migrate_sync(conninfo: str) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        raise connect_error(conninfo, exc) from exc
    with conn:
        try:
            return _apply_pending(conn, available_migrations())
        except _MigrationFailed as failed:
            error = translate(failed.error)
            raise StoreError(
                f"migration {failed.name} failed, nothing was changed: {error}"
            ) from failed.error
        except psycopg.Error as exc:
            raise StoreError(f"migration failed, nothing was changed: {translate(exc)}") from exc


class _MigrationFailed(Exception):
    def __init__(self, name: str, error: psycopg.Error) -> None:
        super().__init__(name)
        self.name = name
        self.error = error


def _pending(migrations: list[Migration], recorded: dict[str, str]) -> list[Migration]:
    """What this run applies, in order (see the module's docstring for when).

    From the first numbered file that is new or edited on, every numbered file runs
    again: a later file may build on what the edited one creates or replaces.
    """
    numbered = [m for m in migrations if not m.repeatable]
    changed = [i for i, m in enumerate(numbered) if recorded.get(m.name) != m.checksum]
    numbered = numbered[changed[0] :] if changed else []
    repeatable = [
        m for m in migrations if m.repeatable and (numbered or recorded.get(m.name) != m.checksum)
    ]
    return numbered + repeatable


def _apply_pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[str]:
    """Every pending migration, in one transaction: all of them or none."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(_CREATE_VERSION_TABLE)
        rows = conn.execute(f"select name, checksum from public.{VERSION_TABLE}")
        recorded: dict[str, str] = {name: checksum for name, checksum in rows}
        pending = _pending(migrations, recorded)
        if not pending:
            return []
        misfits = assets_misfits(conn)
        if misfits:
            raise StoreError(
                "the app's public.assets table does not fit batchmon, nothing was changed: "
                + "; ".join(misfits)
            )
        for migration in pending:
            try:
                # No parameters: psycopg sends the whole file as one multi-statement query.
                conn.execute(migration.sql.encode())
            except psycopg.Error as exc:
                raise _MigrationFailed(migration.name, exc) from exc
            conn.execute(
                f"insert into public.{VERSION_TABLE} (name, checksum) values (%s, %s)"
                " on conflict (name) do update"
                " set checksum = excluded.checksum, applied_at = now()",
                (migration.name, migration.checksum),
            )
        return [m.name for m in pending]


async def migrate(conninfo: str) -> list[str]:
    """Async face of :func:`migrate_sync` (runs it in a worker thread)."""
    return await asyncio.to_thread(migrate_sync, conninfo)


def main_sync(conninfo: str, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``batchmon db migrate``: apply, print what was applied, return an exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        applied = migrate_sync(conninfo)
    except StoreError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if applied:
        for name in applied:
            print(f"applied {name}", file=out)
    else:
        print("database is up to date", file=out)
    return 0
