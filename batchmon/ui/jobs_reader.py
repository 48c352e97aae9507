"""What the jobs pane shows, read from the store without re-reading what did not change.

The desktop refreshes jobs on every poll pass (2 s by default). Reading every running
job's batches and the model limits each time costs a round trip per job and one more
per pass, to Supabase too, while nothing changed. A job's summary (progress, batches by
state, tokens in the queue) moves whenever its batches do, so its batches and the
limits are read again only when a summary changed. Two moves leave the summaries as
they were (``submitting`` to ``submitted``; a limit set for a model no job uses), so
running jobs' batches and the limits are read again every :data:`FULL_READ_EVERY`
refreshes as well: the cadence at which the desktop lists every batch again while work
is pending. A finished job's batches no longer change: they are read once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from batchmon.store import Store
from batchmon.store.job_rows import JobBatch, JobSummary, ModelLimit
from batchmon.ui.push_follower import RESYNC_EVERY_POLLS

JOBS_SHOWN = 50
FULL_READ_EVERY = RESYNC_EVERY_POLLS


@dataclass(frozen=True, slots=True)
class JobsView:
    """One refresh's answer: the jobs newest first, each one's batches, the limits."""

    jobs: list[JobSummary]
    batches: dict[str, list[JobBatch]]
    limits: list[ModelLimit]


class JobsReader:
    """Reads jobs for the pane; keeps the last answer to skip what did not change."""

    def __init__(self, store: Store, *, full_read_every: int = FULL_READ_EVERY) -> None:
        self._store = store
        self._full_read_every = full_read_every
        self._summaries: dict[str, JobSummary] = {}
        self._batches: dict[str, list[JobBatch]] = {}
        self._limits: list[ModelLimit] | None = None
        self._since_full = 0
        self._reading = asyncio.Lock()

    async def read(self) -> JobsView:
        """The jobs now; raises :class:`~batchmon.store.StoreError` like the store.

        A poll pass and a server-run check may ask at once: they take turns, so the
        cache is never rebuilt under a read still using it.
        """
        async with self._reading:
            return await self._read()

    async def _read(self) -> JobsView:
        jobs = await self._store.job_summaries(limit=JOBS_SHOWN)
        full = self._since_full >= self._full_read_every
        changed = [
            job
            for job in jobs
            if self._summaries.get(job.id) != job or (full and job.status == "running")
        ]
        for job in changed:
            self._batches[job.id] = await self._store.job_batches(job.id)
        if changed or full or self._limits is None:
            self._limits = await self._store.model_limits()
        self._summaries = {job.id: job for job in jobs}
        self._batches = {job.id: self._batches[job.id] for job in jobs}
        self._since_full = 0 if full else self._since_full + 1
        return JobsView(jobs, dict(self._batches), list(self._limits))
