"""Run SQL the way PostgREST and Realtime do: as the JWT's role, with its claims set.

Every statement runs inside a transaction that starts with ``set local role`` and sets
``request.jwt.claims`` (and no other ``request.jwt.*`` setting, like PostgREST 12), so
row-level security and ``auth.uid()`` see exactly what they see on Supabase. PostgREST
also runs STABLE and IMMUTABLE functions in a read-only transaction, and applies the
impersonated role's own settings (Supabase gives ``authenticated`` a statement timeout
of 8 s and ``anon`` one of 3 s) with ``set_config(..., true)`` after switching.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

_ROLE_SETTINGS = """
select split_part(cfg, '=', 1), substr(cfg, strpos(cfg, '=') + 1)
from pg_catalog.pg_db_role_setting s
join pg_catalog.pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as cfg
where r.rolname = %s
  and s.setdatabase in (0, (select oid from pg_catalog.pg_database
                            where datname = current_database()))
order by s.setdatabase
"""


async def role_settings(conn: AsyncConnection, role: str) -> dict[str, str]:
    """``alter role ... set`` values of ``role`` (database-specific ones win)."""
    cur = await conn.execute(_ROLE_SETTINGS, (role,))
    return {name: value for name, value in await cur.fetchall()}


@asynccontextmanager
async def as_claims(
    pool: AsyncConnectionPool,
    claims: Mapping[str, Any],
    *,
    read_only: bool = False,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction running as ``claims['role']`` with the claims set."""
    role = str(claims.get("role") or "anon")
    async with pool.connection() as conn, conn.transaction():
        if read_only:
            await conn.execute("set transaction read only")
        await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        await conn.execute(
            "select set_config('request.jwt.claims', %s, true)", (json.dumps(dict(claims)),)
        )
        for name, value in (settings or {}).items():
            await conn.execute("select set_config(%s, %s, true)", (name, value))
        yield conn
