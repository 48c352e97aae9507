"""The data API: one set of SQL functions, reached over direct Postgres or Supabase."""

from batchmon.store.api import Store
from batchmon.store.protocol import (
    ApplyCounts,
    AssetRow,
    BatchRow,
    Change,
    PendingBatch,
    PermissionDenied,
    PollRun,
    ResultRow,
    ResultsState,
    RetryLink,
    RetryRefused,
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
    "ResultsState",
    "RetryLink",
    "RetryRefused",
    "Store",
    "StoreError",
]
