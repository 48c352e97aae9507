"""The data API: one set of SQL functions, reached over direct Postgres or Supabase."""

from batchmon.store.protocol import (
    ApplyCounts,
    AssetRow,
    BatchRow,
    Change,
    PendingBatch,
    PermissionDenied,
    PollRun,
    ResultRow,
    RetryLink,
    RetryRefused,
    Store,
    StoreError,
)

__all__ = [
    "ApplyCounts",
    "AssetRow",
    "BatchRow",
    "Change",
    "PendingBatch",
    "PermissionDenied",
    "PollRun",
    "ResultRow",
    "RetryLink",
    "RetryRefused",
    "Store",
    "StoreError",
]
