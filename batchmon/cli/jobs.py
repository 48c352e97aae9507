"""``jobs``, ``jobs show ID``, ``jobs cancel ID`` and ``jobs limits``: large work, seen whole.

A job is split into planned batches that the worker submits as each model's queue has
room, so a person asks about the job, not about its batches one by one: how far it is,
what waits for queue room, what it cost so far and when it should be done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from batchmon.cli.batches import chosen_assets, print_skips
from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK
from batchmon.cli.output import short_time, table, write_json
from batchmon.config import Settings
from batchmon.core.formatting import format_duration, format_tokens
from batchmon.core.planner import MAX_REQUESTS, PlanLimits, PlannedBatch, plan_batches, summarize
from batchmon.core.requests import DEFAULT_MODEL
from batchmon.core.tokens import format_image_size
from batchmon.engine.jobs import (
    DEFAULT_TOKEN_LIMITS,
    JobSubmitter,
    cancel_job,
    create_job,
    job_lines,
    plan_limits,
    sized_estimate,
)
from batchmon.store.job_rows import JobBatch, JobSummary, ModelLimit
from batchmon.wiring import open_client, open_store, settings_from


def default_limits(settings: Settings) -> dict[str, int]:
    """Each model's limit where none is stored: the settings' ``token_limits`` over tier 1."""
    return {**DEFAULT_TOKEN_LIMITS, **settings.token_limits}


def job_eta_seconds(job: JobSummary, now: datetime) -> float | None:
    """Seconds until the last asset is settled, at the pace the job has kept so far.

    None before anything settled (no pace yet) and once the job has finished.
    """
    settled = job.completed + job.failed
    if job.finished_at is not None or job.created_at is None or not settled:
        return None
    if settled >= job.assets:
        return 0.0
    elapsed = (now - job.created_at).total_seconds()
    return max(0.0, elapsed / settled * (job.assets - settled))


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _queue(job: JobSummary) -> str:
    used = format_tokens(job.tokens_enqueued)
    return f"{used} / {format_tokens(job.token_limit)}" if job.token_limit else f"{used} / ?"


def _progress(job: JobSummary) -> str:
    settled = job.completed + job.failed
    pct = f" {settled / job.assets:.0%}" if job.assets else ""
    return f"{settled:,}/{job.assets:,}{pct}"


def _job_record(job: JobSummary, now: datetime) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "model": job.model,
        "endpoint": job.endpoint,
        "status": job.status,
        "assets": job.assets,
        "completed": job.completed,
        "failed": job.failed,
        "batches_queued": job.batches_queued,
        "batches_running": job.batches_running,
        "batches_done": job.batches_done,
        "tokens_enqueued": job.tokens_enqueued,
        "token_limit": job.token_limit,
        "estimated_cost_usd": job.estimated_cost,
        "actual_cost_usd": job.actual_cost,
        "max_cost_usd": job.max_cost,
        "attempts_allowed": job.attempts_allowed,
        "image_size": list(job.image_size) if job.image_size else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "eta_seconds": job_eta_seconds(job, now),
    }


def _job_cells(job: JobSummary, now: datetime) -> list[str]:
    eta = job_eta_seconds(job, now)
    return [
        job.id,
        job.status,
        _progress(job),
        f"{job.batches_queued}/{job.batches_running}/{job.batches_done}",
        f"{job.model} {_queue(job)}",
        f"{_usd(job.actual_cost)} of {_usd(job.estimated_cost)}",
        "-" if eta is None else format_duration(eta),
    ]


_JOB_HEADERS = ["JOB", "STATUS", "PROGRESS", "QUEUED/RUNNING/DONE", "QUEUE", "COST", "ETA"]


async def cmd_jobs(args: argparse.Namespace) -> int:
    action = getattr(args, "jobs_command", None)
    if action == "show":
        return await cmd_job_show(args)
    if action == "cancel":
        return await cmd_job_cancel(args)
    if action == "limits":
        return await cmd_job_limits(args)
    settings = settings_from(args)
    async with open_store(settings) as opened:
        jobs = await opened.store.job_summaries(limit=args.limit)
    now = datetime.now(UTC)
    if args.json:
        write_json({"jobs": [_job_record(j, now) for j in jobs]}, sys.stdout)
        return EXIT_OK
    if not jobs:
        print("no jobs: `batchmon submit` creates one")
        return EXIT_OK
    table(_JOB_HEADERS, [_job_cells(j, now) for j in jobs], sys.stdout)
    return EXIT_OK


def _batch_record(batch: JobBatch) -> dict[str, Any]:
    return {
        "ordinal": batch.ordinal,
        "state": batch.state,
        "attempt": batch.attempt,
        "requests": batch.request_count,
        "bytes": batch.bytes,
        "estimated_tokens": batch.estimated_tokens,
        "estimated_cost_usd": batch.estimated_cost,
        "openai_batch_id": batch.openai_batch_id,
    }


def _batch_cells(batch: JobBatch) -> list[str]:
    return [
        str(batch.ordinal),
        batch.state,
        str(batch.attempt),
        f"{batch.request_count:,}",
        format_tokens(batch.estimated_tokens),
        _usd(batch.estimated_cost),
        batch.openai_batch_id or "-",
    ]


async def cmd_job_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened:
        job = await opened.store.get_job(args.job_id)
        batches = await opened.store.job_batches(args.job_id) if job else []
    if job is None:
        print(f"batchmon: error: no job {args.job_id}: `batchmon jobs` lists them", file=sys.stderr)
        return EXIT_ERROR
    now = datetime.now(UTC)
    if args.json:
        record = _job_record(job, now) | {"batches": [_batch_record(b) for b in batches]}
        write_json(record, sys.stdout)
        return EXIT_OK
    eta = job_eta_seconds(job, now)
    print(f"job {job.id}  {job.status}  ({job.model}, {job.endpoint})")
    print(f"  progress  {_progress(job)}: {job.completed:,} completed, {job.failed:,} failed")
    print(
        f"  batches   {job.batches_queued} queued, {job.batches_running} running, "
        f"{job.batches_done} done"
    )
    print(f"  queue     {_queue(job)} tokens enqueued for {job.model}")
    cap = f", cap {_usd(job.max_cost)}" if job.max_cost is not None else ""
    print(f"  cost      {_usd(job.actual_cost)} so far, {_usd(job.estimated_cost)} estimated{cap}")
    print(f"  created   {short_time(job.created_at)}; finished {short_time(job.finished_at)}")
    print(f"  eta       {'-' if eta is None else format_duration(eta)}")
    if job.image_size:
        size = format_image_size(job.image_size)
        print(f"  images    {size}: every image's tokens estimated at that size")
    if batches:
        print()
        table(
            ["#", "STATE", "ATTEMPT", "REQUESTS", "TOKENS", "EST. COST", "OPENAI BATCH"],
            [_batch_cells(b) for b in batches],
            sys.stdout,
        )
    return EXIT_OK


async def cmd_job_cancel(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with open_store(settings) as opened, open_client(settings) as client:
        if await opened.store.get_job(args.job_id) is None:
            print(
                f"batchmon: error: no job {args.job_id}: `batchmon jobs` lists them",
                file=sys.stderr,
            )
            return EXIT_ERROR
        cancel = await cancel_job(client, opened.store, args.job_id)
    print(
        f"job {args.job_id}: {cancel.dropped} queued batch(es) dropped, "
        f"{len(cancel.running)} running batch(es) cancelled; "
        "finished results are still applied"
    )
    return EXIT_OK


_LimitRow = tuple[str, int, str, int | None]


def _limit_rows(stored: Iterable[ModelLimit], settings: Settings) -> list[_LimitRow]:
    """(model, limit, where it came from, tokens enqueued): stored limits over defaults.

    The store counts a model's enqueued tokens only for a stored limit: None otherwise.
    """
    rows: dict[str, _LimitRow] = {
        model: (model, tokens, "settings" if model in settings.token_limits else "default", None)
        for model, tokens in default_limits(settings).items()
    }
    for limit in stored:
        rows[limit.model] = (
            limit.model,
            limit.enqueued_token_limit,
            limit.source,
            limit.tokens_enqueued,
        )
    return [rows[model] for model in sorted(rows)]


def _print_limits(rows: Sequence[_LimitRow], as_json: bool) -> None:
    if as_json:
        keys = ("model", "enqueued_token_limit", "source", "tokens_enqueued")
        write_json({"limits": [dict(zip(keys, row, strict=True)) for row in rows]}, sys.stdout)
        return
    cells = [[m, f"{t:,}", src, "-" if q is None else format_tokens(q)] for m, t, src, q in rows]
    table(["MODEL", "LIMIT", "FROM", "ENQUEUED"], cells, sys.stdout)


async def cmd_job_limits(args: argparse.Namespace) -> int:
    """List each model's enqueued-token limit, or configure (``--clear``: forget) one."""
    settings = settings_from(args)
    async with open_store(settings) as opened:
        store = opened.store
        if args.clear:
            cleared = await store.clear_model_limit(args.model)
            fallback = default_limits(settings).get(args.model)
            back = f"{fallback:,} (default)" if fallback else "none (bounded by requests and bytes)"
            print(
                f"{args.model}: stored limit cleared; now {back}"
                if cleared
                else f"{args.model}: no stored limit; it uses {back}"
            )
            return EXIT_OK
        if args.tokens is not None:
            await store.set_model_limit(args.model, args.tokens, source="configured")
            print(f"{args.model}: {args.tokens:,} enqueued tokens (configured)")
            return EXIT_OK
        rows = _limit_rows(await store.model_limits(), settings)
    _print_limits(rows, args.json)
    return EXIT_OK


# -- submit: plan, confirm, create the job, send what fits now ------------------------------


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"


def _within_cap(batches: Sequence[PlannedBatch], cap: float) -> int:
    """How many batches, in order, the budget lets the queue submit."""
    spent = 0.0
    for n, batch in enumerate(batches):
        spent += batch.cost.batch_usd or 0.0
        if spent > cap:
            return n
    return len(batches)


def _print_plan(
    batches: Sequence[PlannedBatch], limits: PlanLimits, model: str, endpoint: str
) -> None:
    plan = summarize(batches)
    print(f"plan: {plan.requests:,} request(s) in {plan.batches:,} batch(es), {model} ({endpoint})")
    budget = limits.token_budget(model)
    queue = (
        f"; {model}'s queue limit {limits.token_limits[model]:,}, at most {budget:,} a batch"
        if budget is not None and model in limits.token_limits
        else f"; {model}'s queue limit is not known yet"
    )
    print(
        f"  {_megabytes(plan.byte_size)} of JSONL, "
        f"{plan.estimated_tokens:,} estimated prompt tokens{queue}"
    )
    if plan.batch_usd is None or plan.standard_usd is None:
        print(f"  estimated cost: unknown (no price known for {model})")
    else:
        print(
            f"  estimated cost: {_usd(plan.batch_usd)} at batch prices, "
            f"saving {_usd(plan.saving_usd)} against standard prices ({_usd(plan.standard_usd)})"
        )


async def _confirmed(args: argparse.Namespace) -> bool:
    """Ask on a terminal (unless ``--yes``); a script or pipe gets no question."""
    if args.yes or not sys.stdin.isatty():
        return True
    answer = await asyncio.to_thread(input, "submit this job? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _worker_id() -> str:
    return f"submit:{socket.gethostname()}:{os.getpid()}"


async def cmd_submit_job(args: argparse.Namespace) -> int:
    """``batchmon submit``: show the plan, create the job, send the batches that fit now."""
    settings = settings_from(args)
    model = args.model or DEFAULT_MODEL
    async with open_store(settings) as opened, open_client(settings) as client:
        assets, unknown = await chosen_assets(opened, args)
        if not assets:
            print("nothing to submit: no matching assets")
            return EXIT_ERROR if unknown else EXIT_OK
        limits = replace(
            await plan_limits(opened.store, default_limits(settings)),
            max_requests=min(args.per_batch, MAX_REQUESTS),
        )
        lines = job_lines(assets, model, args.endpoint)
        image_size = getattr(args, "image_size", settings.image_size)  # the flag wins
        estimate = sized_estimate(image_size)
        preview = list(plan_batches(lines, limits, keep_lines=False, estimate=estimate))
        if not preview:
            print("nothing to submit: every asset is tagged, pending or has no image URL")
            return EXIT_OK
        _print_plan(preview, limits, model, args.endpoint)
        if args.max_cost is not None:
            fits = _within_cap(preview, args.max_cost)
            print(
                f"  budget {_usd(args.max_cost)}: {fits} of {len(preview)} batch(es) "
                "within it; the rest are not submitted"
            )
        if not await _confirmed(args):
            print("nothing submitted")
            return EXIT_OK
        plan = await create_job(
            opened.store,
            assets,
            model,
            args.endpoint,
            limits,
            max_cost=args.max_cost,
            attempts=args.attempts,
            image_size=image_size,
        )
        submitter = JobSubmitter(
            client, opened.store, worker_id=_worker_id(), default_limits=default_limits(settings)
        )
        sent = await submitter.submit_ready()
    print(f"job {plan.job_id}: {plan.batches} batch(es), {plan.requests:,} request(s)")
    for batch_id in sent.submitted:
        print(f"{batch_id}  submitted")
    waiting = plan.batches - len(sent.submitted)
    print(
        f"submitted {len(sent.submitted)} batch(es) now; {max(waiting, 0)} wait for queue "
        f"room (the worker sends them; `batchmon jobs show {plan.job_id}`)"
    )
    for planned, error in sent.errors.items():
        print(f"job batch {planned} not submitted yet: {error}", file=sys.stderr)
    print_skips(unknown, plan.skipped)
    return EXIT_OK
