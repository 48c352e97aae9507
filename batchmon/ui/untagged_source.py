"""Untagged assets through the store, for "Tag N untagged assets…".

The SQL API answers "which assets were never sent for tagging" as the caller (under
RLS on Supabase, every user's over the owner's direct connection), so the action works
on every store the desktop can open.
"""

from __future__ import annotations

from collections.abc import Sequence

from batchmon.store import AssetRow, Store


class StoreUntagged:
    """Counts and reads the assets never sent for tagging, oldest first."""

    def __init__(self, store: Store, *, limit: int = 250_000) -> None:
        self._store = store
        self.limit = limit

    async def count(self) -> int:
        return min(await self._store.untagged_count(), self.limit)

    async def assets(self) -> Sequence[AssetRow]:
        ids = await self._store.untagged_asset_ids(limit=self.limit)
        return await self._store.assets_by_ids(ids)
