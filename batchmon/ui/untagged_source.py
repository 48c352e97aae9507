"""Untagged assets over a direct Postgres connection, for "Tag N untagged assets…".

The SQL API has no question for "every asset never tagged" yet (``batchmon submit
--all-untagged`` asks Postgres directly too), so this is offered only where the desktop
holds a direct connection string: the embedded database, the demo's, or a Postgres URL.
Over Supabase (one signed-in user, RLS) the action is not shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from batchmon.store.protocol import AssetRow, Store, StoreError

UNTAGGED = "from public.assets where auto_tag_status is null and image_url is not null"
PAGE = 5_000
"""Asset ids read back through the store per call."""


class PostgresUntagged:
    """Counts and reads the assets never sent for tagging, oldest first."""

    def __init__(self, database_url: str, store: Store, *, limit: int = 250_000) -> None:
        self._url = database_url
        self._store = store
        self.limit = limit

    async def count(self) -> int:
        rows = await self._query(f"select count(*) {UNTAGGED}")
        return min(int(str(rows[0][0])), self.limit)

    async def assets(self) -> Sequence[AssetRow]:
        rows = await self._query(f"select id::text {UNTAGGED} order by created_at, id limit %s")
        ids = [str(row[0]) for row in rows]
        found: list[AssetRow] = []
        for start in range(0, len(ids), PAGE):
            found.extend(await self._store.assets_by_ids(ids[start : start + PAGE]))
        return found

    async def _query(self, sql: str) -> list[tuple[object, ...]]:
        params = (self.limit,) if "%s" in sql else ()
        try:
            async with await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=10
            ) as conn:
                cursor = await conn.execute(sql.encode(), params)
                return list(await cursor.fetchall())
        except psycopg.Error as exc:
            raise StoreError(f"could not read the untagged assets: {exc}") from exc
