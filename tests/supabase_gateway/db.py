"""Run SQL the way PostgREST and Realtime do: as the JWT's role, with its claims set.

Every statement runs inside a transaction that starts with ``set local role`` and
``set_config('request.jwt.claims', ...)``, so row-level security and ``auth.uid()``
see exactly what they see on Supabase.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool


@asynccontextmanager
async def as_claims(
    pool: AsyncConnectionPool, claims: dict[str, Any]
) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction running as ``claims['role']`` with the claims set."""
    role = str(claims.get("role") or "anon")
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        await conn.execute(
            "select set_config('request.jwt.claims', %s, true),"
            " set_config('request.jwt.claim.sub', %s, true),"
            " set_config('request.jwt.claim.role', %s, true)",
            (json.dumps(claims), str(claims.get("sub") or ""), role),
        )
        yield conn
