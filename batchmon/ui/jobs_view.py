"""How jobs read on the desktop, without Qt: the job row, the queue's headroom, the notice.

A job (``batchmon.engine.jobs``) is many batches seen through: the desktop shows one
row per job with its batches under it, each model's queue use in the status bar, and
one notification when a job ends instead of one per batch once a job has more than a
few batches.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from batchmon.core.formatting import format_duration, format_tokens
from batchmon.core.status import paced_eta
from batchmon.store.job_rows import JobSummary, ModelLimit

DEFAULT_JOB_NOTICE_BATCHES = 3
"""A job with more batches than this is announced once, as a job, not per batch."""

JOB_COLUMNS = ("Job", "Status", "Progress", "Batches", "Cost", "ETA")


def job_batch_count(job: JobSummary) -> int:
    return job.batches_queued + job.batches_running + job.batches_done


def job_eta(job: JobSummary, now: datetime) -> float | None:
    """Seconds until the last asset is settled at the pace kept so far (None: no pace)."""
    if job.finished_at is not None or job.created_at is None:
        return None
    elapsed = (now - job.created_at).total_seconds()
    return paced_eta(job.completed + job.failed, job.assets, elapsed)


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.1 else f"${value:.4f}"


def job_cells(job: JobSummary, now: datetime) -> tuple[str, ...]:
    """The job row's texts, in :data:`JOB_COLUMNS` order."""
    settled = job.completed + job.failed
    progress = f"{settled:,}/{job.assets:,}"
    if job.failed:
        progress += f" · {job.failed:,} failed"
    batches = (
        f"{job.batches_queued} queued · {job.batches_running} running · {job.batches_done} done"
    )
    cost = f"{_usd(job.actual_cost)} of ~{_usd(job.estimated_cost)}"
    if job.max_cost is not None:
        cost += f" (max {_usd(job.max_cost)})"
    eta = job_eta(job, now)
    status = job.status.capitalize()
    return (
        f"Job {job.id[:8]} · {job.model}",
        status,
        progress,
        batches,
        cost,
        "" if eta is None else f"ETA {format_duration(eta)}",
    )


def headroom_text(limits: Iterable[ModelLimit]) -> str:
    """``gpt-4o-mini: 1.2M / 2M tokens queued`` per model with a known limit."""
    return " · ".join(
        f"{m.model}: {format_tokens(m.tokens_enqueued)} / "
        f"{format_tokens(m.enqueued_token_limit)} tokens queued"
        for m in sorted(limits, key=lambda m: m.model)
    )


def job_notice(job: JobSummary) -> tuple[str, str]:
    """Title and body of the one notice a finished job gets."""
    tagged = f"{job.completed:,} tagged"
    title = "Job cancelled" if job.status == "cancelled" else "Job done"
    failed = f", {job.failed:,} failed permanently" if job.failed else ""
    return f"{title}: {tagged}{failed}", f"{job.model} · job {job.id}"
