"""Which coroutine runs each ``batchmon`` subcommand.

The command modules import the engine, the store and the OpenAI SDK, so they are loaded
only once a command is chosen: ``batchmon --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def command_for(name: str) -> Command:
    """The coroutine function for subcommand ``name`` (one the parser knows)."""
    from batchmon.cli import batches, db, jobs, runs, worker

    table: dict[str, Command] = {
        "submit": batches.cmd_submit,
        "status": batches.cmd_status,
        "retry": batches.cmd_retry,
        "cancel": batches.cmd_cancel,
        "jobs": jobs.cmd_jobs,
        "runs": runs.cmd_runs,
        "worker": worker.cmd_worker,
        "db": db.cmd_db_migrate,
    }
    return table[name]
