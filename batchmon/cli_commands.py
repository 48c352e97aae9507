"""What each ``batchmon`` subcommand does, given parsed arguments.

Each command opens what it needs (store, client), hands it to the engine, and prints the
outcome. Errors a person can act on propagate as exceptions; :mod:`batchmon.cli` turns
them into a message and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from batchmon.cli_output import ProgressLine, short_time, table
from batchmon.config import ConfigError, Settings
from batchmon.core.formatting import format_duration as human_duration
from batchmon.core.requests import DEFAULT_MODEL
from batchmon.core.status import is_terminal
from batchmon.engine.retry import Retrier
from batchmon.engine.submit import submit_assets
from batchmon.engine.sync import BatchSync
from batchmon.engine.worker import PassReport, Worker, WorkerConfig
from batchmon.store.protocol import BatchRow, ResultsState
from batchmon.wiring import open_client, open_store, settings_from

EXIT_OK = 0


def _out() -> Any:
    return sys.stdout


# -- submit -------------------------------------------------------------------------------


def _metadata(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--metadata {pair!r} must look like KEY=VALUE")
        out[key] = value
    return out


def _ids(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


async def cmd_submit(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    metadata = _metadata(args.metadata or [])
    async with open_store(settings) as opened, open_client(settings) as client:
        if args.ids:
            ids = _ids(args.ids)[: args.limit] if args.limit else _ids(args.ids)
        else:
            if opened.database_url is None:
                raise ConfigError(
                    "--all-untagged needs a direct Postgres connection: pass --database-url"
                )
            from batchmon.cli_sql import untagged_asset_ids

            ids = await asyncio.to_thread(untagged_asset_ids, opened.database_url, limit=args.limit)
        assets = await opened.store.assets_by_ids(ids) if ids else []
        found = {a.id for a in assets}
        unknown = [i for i in ids if i not in found]
        if not assets:
            print("nothing to submit: no matching assets", file=_out())
            return 1 if unknown else EXIT_OK
        progress = ProgressLine("submit")
        result = await submit_assets(
            client,
            opened.store,
            assets,
            model=args.model or DEFAULT_MODEL,
            endpoint=args.endpoint,
            metadata=metadata,
            per_batch=args.per_batch,
            on_batch=lambda b, n: progress.update(f"created {b.id} with {n} request(s)"),
        )
        progress.done()
    for batch in result.batches:
        print(f"{batch.id}  {batch.status}", file=_out())
    print(f"submitted {result.submitted} asset(s) in {len(result.batches)} batch(es)", file=_out())
    for asset_id in unknown:
        print(f"skipped {asset_id}: no such asset", file=sys.stderr)
    for asset_id, why in result.skipped.items():
        print(f"skipped {asset_id}: {why}", file=sys.stderr)
    return EXIT_OK


# -- status -------------------------------------------------------------------------------


def _status_record(
    row: BatchRow, oldest: datetime | None, now: datetime, results: ResultsState | None = None
) -> dict[str, Any]:
    created = row.created_at
    entered = {
        "validating": row.created_at,
        "in_progress": row.in_progress_at,
        "finalizing": row.finalizing_at,
        "completed": row.completed_at,
        "failed": row.failed_at,
        "expired": row.expired_at,
        "cancelling": row.cancelling_at,
        "cancelled": row.cancelled_at,
    }.get(row.status)
    return {
        "batch_id": row.id,
        "status": row.status,
        "completed": row.completed,
        "failed": row.failed,
        "total": row.total,
        "assets": row.asset_count,
        "pending_assets": row.pending_assets,
        "oldest_pending_at": oldest.isoformat() if oldest else None,
        "created_at": created.isoformat() if created else None,
        "age_seconds": (now - created).total_seconds() if created else None,
        "time_in_state_seconds": (now - entered).total_seconds() if entered else None,
        "applied": row.applied_at is not None,
        "retried_by": row.retried_by,
        "results_state": results.state if results else None,
        "results_note": results.note if results else None,
    }


async def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    requests = None
    async with open_store(settings) as opened:
        store = opened.store
        if not args.offline and settings.openai_api_key:
            async with open_client(settings) as client:
                result = await BatchSync(client, store).run()
                requests = result.requests
        pending = {p.batch_id: p for p in await store.pending_batches()}
        rows = await store.list_batches(limit=args.limit if args.all else 10_000)
        shown = [r for r in rows if args.all or r.id in pending or not is_terminal(r.status)]
        results = await store.results_states([r.id for r in shown])
    now = datetime.now(UTC)
    records = [
        _status_record(
            r, pending[r.id].oldest_asset_at if r.id in pending else None, now, results.get(r.id)
        )
        for r in shown
    ]
    if args.json:
        json.dump({"batches": records, "api_requests": requests}, _out(), indent=2)
        _out().write("\n")
        return EXIT_OK
    if not records:
        print("no batches pending", file=_out())
        return EXIT_OK
    cells = []
    for rec in records:
        done = rec["completed"] + rec["failed"]
        pct = f" {done / rec['total']:.0%}" if rec["total"] else ""
        oldest = rec["oldest_pending_at"]
        oldest_age = (
            human_duration((now - datetime.fromisoformat(oldest)).total_seconds())
            if oldest
            else "-"
        )
        cells.append(
            [
                rec["batch_id"],
                f"{rec['status']}: {rec['results_note']}" if rec["results_note"] else rec["status"],
                f"{done}/{rec['total']}{pct}",
                f"{rec['pending_assets']}/{rec['assets']}",
                oldest_age,
                human_duration(rec["age_seconds"]),
                human_duration(rec["time_in_state_seconds"]),
            ]
        )
    table(
        ["BATCH", "STATUS", "PROGRESS", "PENDING/ASSETS", "OLDEST", "AGE", "IN STATE"],
        cells,
        _out(),
    )
    if requests is not None:
        print(f"({requests} API request(s) to check {len(records)} batch(es))", file=sys.stderr)
    return EXIT_OK


# -- retry / cancel ------------------------------------------------------------------------


async def cmd_retry(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened, open_client(settings) as client:
        result = await Retrier(client, opened.store).retry(args.batch_id)
    print(result.summary(), file=_out())
    for asset_id in result.skipped_assets:
        print(f"skipped {asset_id}: no image URL to rebuild its request", file=sys.stderr)
    return EXIT_OK


async def cmd_cancel(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened, open_client(settings) as client:
        batch = await client.cancel(args.batch_id)
        await opened.store.record_statuses([batch.model_dump(mode="json")])
    print(f"{batch.id}  {batch.status}", file=_out())
    return EXIT_OK


# -- runs ---------------------------------------------------------------------------------


async def cmd_runs(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened:
        runs = await opened.store.recent_poll_runs(limit=args.limit)
        cron = None
        if opened.database_url is not None:
            from batchmon.cli_sql import cron_runs

            cron = await asyncio.to_thread(cron_runs, opened.database_url, limit=args.limit)
    if args.json:
        payload = {
            "worker_runs": [
                {
                    "id": r.id,
                    "worker_id": r.worker_id,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
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
                    "start_time": c.start_time.isoformat() if c.start_time else None,
                    "end_time": c.end_time.isoformat() if c.end_time else None,
                    "message": c.return_message,
                }
                for c in cron
            ],
        }
        json.dump(payload, _out(), indent=2)
        _out().write("\n")
        return EXIT_OK
    if runs:
        table(
            ["STARTED", "TOOK", "WORKER", "CHECKED", "APPLIED", "FAILED", "ERROR"],
            [
                [
                    short_time(r.started_at),
                    human_duration((r.finished_at - r.started_at).total_seconds())
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
            _out(),
        )
    else:
        print("no worker runs recorded yet", file=_out())
    if cron is None:
        print("pg_cron is not installed in this database", file=_out())
    elif cron:
        print(f"\npg_cron job {CRON_JOB!r}:", file=_out())
        table(
            ["RUN", "STATUS", "STARTED", "MESSAGE"],
            [
                [str(c.runid), c.status, short_time(c.start_time), (c.return_message or "")[:60]]
                for c in cron
            ],
            _out(),
        )
    else:
        print(f"pg_cron has no runs of a job named {CRON_JOB!r}", file=_out())
    return EXIT_OK


CRON_JOB = "poll-openai-batches"


# -- worker -------------------------------------------------------------------------------


def _print_pass(report: PassReport) -> None:
    run = report.run
    took = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    print(
        f"pass: checked {run.checked}, applied {run.applied}, failed {run.failed}, "
        f"{report.requests} API request(s), {took:.1f}s",
        file=_out(),
        flush=True,
    )
    for applied in report.applied:
        print(f"  {applied.summary()}", file=_out(), flush=True)
    for batch_id, error in report.errors.items():
        print(f"  {batch_id}: {error}", file=sys.stderr, flush=True)


async def cmd_worker(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    config = WorkerConfig(
        interval=args.interval,
        min_age=args.min_age,
        concurrency=args.concurrency,
        lease=args.lease,
    )
    if args.worker_id:
        config = replace(config, worker_id=args.worker_id)
    async with open_store(settings) as opened, open_client(settings) as client:
        worker = Worker(client, opened.store, config)
        return await _run_worker(worker, once=args.once)


async def _run_worker(worker: Worker, *, once: bool) -> int:
    """First SIGTERM/SIGINT: stop claiming, finish what is in flight. Second: cancel."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal() -> None:
        if worker.stopping and task is not None:
            task.cancel()
        else:
            print(
                "stopping: finishing batches in flight (signal again to abort)",
                file=sys.stderr,
                flush=True,
            )
            worker.request_stop()

    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    try:
        if once:
            report = await worker.run_once()
            _print_pass(report)
            return EXIT_OK if not report.run.error else 1
        print(
            f"worker {worker.config.worker_id}: polling every "
            f"{human_duration(worker.config.interval.total_seconds())}",
            file=sys.stderr,
            flush=True,
        )
        while not worker.stopping:
            started = time.monotonic()
            _print_pass(await worker.run_once())
            wait = worker.config.interval.total_seconds() - (time.monotonic() - started)
            await worker.wait_stop(max(0.0, wait))
        return EXIT_OK
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


# -- db / sim -----------------------------------------------------------------------------


async def cmd_db_migrate(args: argparse.Namespace) -> int:
    settings: Settings = settings_from(args)
    from batchmon.store.migrate import migrate

    if settings.database_mode == "postgres":
        applied = await migrate(settings.database_url or "")
        where = "the database"
    elif settings.database_mode == "supabase":
        raise ConfigError(
            "migrations need a direct Postgres connection: pass --database-url "
            "(Supabase: the project's direct connection string)"
        )
    else:
        from batchmon.store.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.resolved_data_dir() / "postgres", migrate=False)
        url = await asyncio.to_thread(embedded.start)
        try:
            applied = await migrate(url)
        finally:
            await asyncio.to_thread(embedded.stop)
        where = f"the embedded database in {embedded.data_dir}"
    if applied:
        for name in applied:
            print(f"applied {name}", file=_out())
    else:
        print(f"{where} is up to date", file=_out())
    return EXIT_OK
