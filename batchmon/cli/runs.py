"""``runs``: what the pollers did lately, the worker's passes and pg_cron's job runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from batchmon.cli.exit_codes import EXIT_OK
from batchmon.cli.output import short_time, table, write_json
from batchmon.cli.sql import CRON_JOB_NAME, CronRun, cron_runs
from batchmon.core.formatting import format_duration
from batchmon.store.protocol import PollRun
from batchmon.wiring import open_store, settings_from


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _payload(runs: list[PollRun], cron: list[CronRun] | None) -> dict[str, Any]:
    return {
        "worker_runs": [
            {
                "id": r.id,
                "worker_id": r.worker_id,
                "started_at": r.started_at.isoformat(),
                "finished_at": _iso(r.finished_at),
                "checked": r.checked,
                "applied": r.applied,
                "failed": r.failed,
                "error": r.error,
            }
            for r in runs
        ],
        "cron_runs": None
        if cron is None
        else [
            {
                "runid": c.runid,
                "status": c.status,
                "start_time": _iso(c.start_time),
                "end_time": _iso(c.end_time),
                "message": c.return_message,
            }
            for c in cron
        ],
    }


def _print_worker_runs(runs: list[PollRun]) -> None:
    if not runs:
        print("no worker runs recorded yet")
        return
    table(
        ["STARTED", "TOOK", "WORKER", "CHECKED", "APPLIED", "FAILED", "ERROR"],
        [
            [
                short_time(r.started_at),
                format_duration((r.finished_at - r.started_at).total_seconds())
                if r.finished_at
                else "running",
                r.worker_id or "-",
                str(r.checked),
                str(r.applied),
                str(r.failed),
                (r.error or "")[:60],
            ]
            for r in runs
        ],
        sys.stdout,
    )


def _print_cron_runs(cron: list[CronRun] | None) -> None:
    if cron is None:
        print("pg_cron is not installed in this database")
    elif not cron:
        print(f"pg_cron has no runs of a job named {CRON_JOB_NAME!r}")
    else:
        print(f"\npg_cron job {CRON_JOB_NAME!r}:")
        table(
            ["RUN", "STATUS", "STARTED", "MESSAGE"],
            [
                [str(c.runid), c.status, short_time(c.start_time), (c.return_message or "")[:60]]
                for c in cron
            ],
            sys.stdout,
        )


async def cmd_runs(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened:
        runs = await opened.store.recent_poll_runs(limit=args.limit)
        cron = None
        if opened.database_url is not None:
            cron = await asyncio.to_thread(cron_runs, opened.database_url, limit=args.limit)
    if args.json:
        write_json(_payload(runs, cron), sys.stdout)
        return EXIT_OK
    _print_worker_runs(runs)
    _print_cron_runs(cron)
    return EXIT_OK
