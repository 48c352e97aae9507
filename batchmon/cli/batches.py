"""``submit``, ``status``, ``retry`` and ``cancel``: the commands about batches.

Each opens what it needs (store, client), hands it to the engine, and prints the
outcome on stdout (progress and skips on stderr). Errors a person can act on propagate
as exceptions; :func:`batchmon.cli.run_command` turns them into a line and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK
from batchmon.cli.output import ProgressLine, table, write_json
from batchmon.config import ConfigError
from batchmon.core.formatting import format_duration
from batchmon.core.requests import DEFAULT_MODEL
from batchmon.core.status import entered_at_field, is_terminal
from batchmon.engine.retry import Retrier, RetryNotPossible, plan_retry
from batchmon.engine.submit import submit_assets
from batchmon.engine.sync import BatchSync
from batchmon.store.protocol import AssetRow, BatchRow, ResultsState
from batchmon.wiring import OpenedStore, open_client, open_store, settings_from

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


async def chosen_assets(
    opened: OpenedStore, args: argparse.Namespace
) -> tuple[list[AssetRow], list[str]]:
    """The assets ``--ids`` or ``--all-untagged`` (with ``--limit``) name, and unknown ids."""
    if args.ids:
        ids = _ids(args.ids)[: args.limit] if args.limit else _ids(args.ids)
    else:
        ids = await opened.store.untagged_asset_ids(limit=args.limit)
    assets = await opened.store.assets_by_ids(ids) if ids else []
    found = {a.id for a in assets}
    return assets, [i for i in ids if i not in found]


async def cmd_submit(args: argparse.Namespace) -> int:
    if not args.direct:
        from batchmon.cli.jobs import cmd_submit_job

        return await cmd_submit_job(args)
    settings = settings_from(args)
    metadata = _metadata(args.metadata or [])
    async with open_store(settings) as opened, open_client(settings) as client:
        assets, unknown = await chosen_assets(opened, args)
        if not assets:
            print("nothing to submit: no matching assets")
            return EXIT_ERROR if unknown else EXIT_OK
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
        print(f"{batch.id}  {batch.status}")
    print(f"submitted {result.submitted} asset(s) in {len(result.batches)} batch(es)")
    print_skips(unknown, result.skipped)
    return EXIT_OK


def print_skips(unknown: Sequence[str], skipped: Mapping[str, str]) -> None:
    """One stderr line per asset not sent, with why."""
    for asset_id in unknown:
        print(f"skipped {asset_id}: no such asset", file=sys.stderr)
    for asset_id, why in skipped.items():
        print(f"skipped {asset_id}: {why}", file=sys.stderr)


# -- status -------------------------------------------------------------------------------


def _seconds_since(then: datetime | None, now: datetime) -> float | None:
    return (now - then).total_seconds() if then else None


def _status_record(
    row: BatchRow, oldest: datetime | None, now: datetime, results: ResultsState | None = None
) -> dict[str, Any]:
    field = entered_at_field(row.status)
    entered: datetime | None = getattr(row, field) if field else None
    return {
        "batch_id": row.id,
        "status": row.status,
        "completed": row.completed,
        "failed": row.failed,
        "total": row.total,
        "assets": row.asset_count,
        "pending_assets": row.pending_assets,
        "oldest_pending_at": oldest.isoformat() if oldest else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "age_seconds": _seconds_since(row.created_at, now),
        "time_in_state_seconds": _seconds_since(entered, now),
        "applied": row.applied_at is not None,
        "retried_by": row.retried_by,
        "results_state": results.state if results else None,
        "results_note": results.note if results else None,
    }


def _status_cells(record: dict[str, Any], now: datetime) -> list[str]:
    done = record["completed"] + record["failed"]
    pct = f" {done / record['total']:.0%}" if record["total"] else ""
    oldest = record["oldest_pending_at"]
    oldest_age = _seconds_since(datetime.fromisoformat(oldest), now) if oldest else None
    return [
        record["batch_id"],
        f"{record['status']}: {record['results_note']}"
        if record["results_note"]
        else record["status"],
        f"{done}/{record['total']}{pct}",
        f"{record['pending_assets']}/{record['assets']}",
        format_duration(oldest_age),
        format_duration(record["age_seconds"]),
        format_duration(record["time_in_state_seconds"]),
    ]


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
        write_json({"batches": records, "api_requests": requests}, sys.stdout)
        return EXIT_OK
    if not records:
        print("no batches pending")
        return EXIT_OK
    table(
        ["BATCH", "STATUS", "PROGRESS", "PENDING/ASSETS", "OLDEST", "AGE", "IN STATE"],
        [_status_cells(record, now) for record in records],
        sys.stdout,
    )
    if requests is not None:
        print(f"({requests} API request(s) to check {len(records)} batch(es))", file=sys.stderr)
    return EXIT_OK


# -- retry / cancel ------------------------------------------------------------------------


def _print_left_out(batch_id: str, left_out: dict[str, str]) -> None:
    """One line per permanent failure not sent again, then how to send them anyway."""
    if not left_out:
        return
    for asset_id, reason in left_out.items():
        print(f"left out {asset_id}: {reason} (permanent: it would fail again)", file=sys.stderr)
    print(
        f"to send these {len(left_out)} unchanged anyway: "
        f"batchmon retry {batch_id} --include-permanent",
        file=sys.stderr,
    )


async def cmd_retry(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    include = args.include_permanent
    async with open_store(settings) as opened, open_client(settings) as client:
        try:
            result = await Retrier(client, opened.store).retry(
                args.batch_id, include_permanent=include
            )
        except RetryNotPossible:
            if not include:  # nothing left but permanent failures: say which, then why
                with contextlib.suppress(RetryNotPossible):
                    plan = await plan_retry(opened.store, args.batch_id)
                    _print_left_out(
                        args.batch_id, {a.id: a.error or "failed" for a in plan.left_out}
                    )
            raise
    print(result.summary())
    for asset_id in result.skipped_assets:
        print(f"skipped {asset_id}: no image URL to rebuild its request", file=sys.stderr)
    _print_left_out(args.batch_id, result.left_out)
    return EXIT_OK


async def cmd_cancel(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened, open_client(settings) as client:
        batch = await client.cancel(args.batch_id)
        await opened.store.record_statuses([batch.model_dump(mode="json")])
    print(f"{batch.id}  {batch.status}")
    return EXIT_OK
