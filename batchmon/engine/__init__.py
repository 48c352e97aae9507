"""The batch engine: sync, apply, retry, submit and the worker, shared by CLI and desktop.

Plain asyncio, no Qt: the desktop adds a clock and a view, the worker adds a loop.
"""

from batchmon.engine.apply import UNRETURNED_REASON, ApplyReport, BatchApplier
from batchmon.engine.retry import Retrier, RetryNotPossible, RetryPlan, RetryResult, plan_retry
from batchmon.engine.submit import SubmitResult, submit_assets
from batchmon.engine.sync import BatchSync, SyncResult
from batchmon.engine.worker import PassReport, Worker, WorkerConfig

__all__ = [
    "UNRETURNED_REASON",
    "ApplyReport",
    "BatchApplier",
    "BatchSync",
    "PassReport",
    "Retrier",
    "RetryNotPossible",
    "RetryPlan",
    "RetryResult",
    "SubmitResult",
    "SyncResult",
    "Worker",
    "WorkerConfig",
    "plan_retry",
    "submit_assets",
]
