"""Row changes as Supabase Realtime reads them from the WAL, captured by a trigger.

Realtime streams every committed row change of a table in the ``supabase_realtime``
publication. The gateway reproduces that with a row-level trigger (installed into the
test database by :func:`install_capture`) that NOTIFYs one JSON message per changed
row; NOTIFY, like the WAL, delivers only committed changes, in commit order. Rows are
keyed by their table's primary key, whatever its columns, as Realtime keys them (its
RLS check and a delete's ``old_record`` use the primary key only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

CAPTURE_CHANNEL = "supabase_gateway_wal"
_DEFAULT_TABLES = ("openai_batches", "batchmon_asset_changes")

_CAPTURE_FUNCTION = """
create schema if not exists supabase_gateway;
create or replace function supabase_gateway.capture() returns trigger
language plpgsql security definer set search_path = pg_catalog as $$
declare
  rec jsonb := case when tg_op = 'DELETE' then null else to_jsonb(new) end;
  old_rec jsonb := case when tg_op = 'INSERT' then null else to_jsonb(old) end;
  pkey text[] := array(
    select a.attname from pg_catalog.pg_index i
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = tg_relid and i.indisprimary order by a.attnum);
  msg jsonb;
begin
  msg := jsonb_build_object(
    'schema', tg_table_schema, 'table', tg_table_name, 'type', tg_op,
    'commit_timestamp',
      to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'record', rec,
    'record_key', (select jsonb_object_agg(k, rec -> k) from unnest(pkey) k where rec is not null),
    'old_key', (select jsonb_object_agg(k, old_rec -> k) from unnest(pkey) k
                where old_rec is not null));
  if octet_length(msg::text) > 7900 then
    -- NOTIFY payloads stop at 8000 bytes; the gateway re-reads the row by key.
    msg := msg - 'record';
  end if;
  perform pg_notify('supabase_gateway_wal', msg::text);
  return null;
end
$$;
"""


async def published_tables(conn: AsyncConnection) -> list[str]:
    """The ``public`` tables of ``supabase_realtime`` (without one: those batchmon publishes)."""
    cur = await conn.execute(
        "select exists (select 1 from pg_catalog.pg_publication"
        " where pubname = 'supabase_realtime')"
    )
    row = await cur.fetchone()
    if not (row and row[0]):
        return list(_DEFAULT_TABLES)
    cur = await conn.execute(
        "select tablename from pg_catalog.pg_publication_tables"
        " where pubname = 'supabase_realtime' and schemaname = 'public'"
    )
    return [r[0] for r in await cur.fetchall()]


async def install_capture(conn: AsyncConnection) -> list[str]:
    """Attach the capture trigger to every table Realtime would stream; return their names.

    Those are the tables of the ``supabase_realtime`` publication where it exists, as on
    Supabase; without it, ``openai_batches`` and ``batchmon_asset_changes``.
    """
    await conn.execute(_CAPTURE_FUNCTION)
    tables = await published_tables(conn)
    for table in tables:
        await conn.execute(
            sql.SQL(
                "drop trigger if exists supabase_gateway_capture on {table};"
                " create trigger supabase_gateway_capture after insert or update or delete"
                " on {table} for each row execute function supabase_gateway.capture()"
            ).format(table=sql.Identifier("public", table))
        )
    return tables


@dataclass(frozen=True)
class RowChange:
    """One committed row change, shaped for a ``postgres_changes`` message."""

    schema: str
    table: str
    type: str  # INSERT | UPDATE | DELETE
    commit_timestamp: str
    record: dict[str, Any] | None
    record_key: dict[str, Any] | None  # the new row's primary key; None: the table has none
    old_key: dict[str, Any] | None  # the old row's primary key

    @classmethod
    def from_notify(cls, payload: str) -> RowChange:
        data = json.loads(payload)
        return cls(
            schema=data["schema"],
            table=data["table"],
            type=data["type"],
            commit_timestamp=data["commit_timestamp"],
            record=data.get("record"),
            record_key=data.get("record_key"),
            old_key=data.get("old_key"),
        )


async def table_columns(conn: AsyncConnection, schema: str, table: str) -> list[dict[str, str]]:
    """The ``columns`` list Realtime sends: name and type of every live column."""
    cur = await conn.execute(
        "select a.attname, t.typname from pg_catalog.pg_attribute a"
        " join pg_catalog.pg_type t on t.oid = a.atttypid"
        " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
        " order by a.attnum",
        (f"{schema}.{table}",),
    )
    return [{"name": name, "type": typ} for name, typ in await cur.fetchall()]
