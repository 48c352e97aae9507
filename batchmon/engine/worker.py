"""The server-side poller: claim due batches, check them, apply the finished ones.

It replaces a cron job that checked at most ten batches per minute with one request per
batch. Here a pass claims the due batches a few dozen at a time (several workers share
them: the store leases claims with ``FOR UPDATE SKIP LOCKED``, and a lease is renewed
while its apply runs), checks them with list pages, and applies finished ones with
bounded concurrency. A stop request ends claiming at once; in-flight applies finish, or,
when cancelled, their claims are released for the next worker. Each pass is recorded as
a poll run, with its error if it had one: nothing a server answers ends the worker.
A batch that failed for lack of queue room is resubmitted after a wait (a job's batch
goes back to its job's queue instead); one the API no longer knows is recorded as such
and left for a retry. Last, the pass submits jobs' planned batches as their model's
queue has room (``engine.jobs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from openai.types import Batch

from batchmon.core.status import is_terminal
from batchmon.engine.apply import ApplyReport, BatchApplier, ResultsPolicy
from batchmon.engine.failures import WAITING_FOR_QUEUE, backoff, is_transient_failure
from batchmon.engine.jobs import DEFAULT_TOKEN_LIMITS, JobPass, JobSubmitter, is_job_batch
from batchmon.engine.retry import Retrier
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import AuthenticationFailed, BatchApiError, BatchClient
from batchmon.store import PollRun, Store, StoreError

log = logging.getLogger(__name__)

Now = Callable[[], datetime]

MAX_PASS_BACKOFF = timedelta(minutes=15)
"""The longest extra wait after failed passes in a row."""

BATCH_NOT_FOUND_NOTE = (
    "batch not found: the API no longer knows it; retry rebuilds the requests from the assets"
)


def default_worker_id() -> str:
    """Host and pid: unique among live workers, readable in the poll-run log."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How often, how old, how many at once, and for how long a claim holds."""

    interval: timedelta = timedelta(seconds=60)
    min_age: timedelta = timedelta(minutes=5)
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=5)
    claim_size: int = 1000
    worker_id: str = field(default_factory=default_worker_id)
    results: ResultsPolicy = field(default_factory=ResultsPolicy)
    token_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TOKEN_LIMITS))
    """Each model's enqueued-token limit when none is stored (jobs' queue)."""


@dataclass(slots=True)
class PassReport:
    """What one pass did (the poll run plus per-batch detail for the terminal)."""

    run: PollRun
    requests: int = 0
    applied: list[ApplyReport] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    jobs: JobPass | None = None


class Worker:
    """Runs passes until stopped. Plain asyncio: the CLI gives it signals, tests a clock."""

    def __init__(
        self,
        client: BatchClient,
        store: Store,
        config: WorkerConfig | None = None,
        *,
        now: Now = _utcnow,
    ) -> None:
        self._client = client
        self._store = store
        self.config = config or WorkerConfig()
        self._now = now
        self._sync = BatchSync(client, store, reuse_listed=True)
        self._applier = BatchApplier(client, store, policy=self.config.results)
        self._retrier = Retrier(client, store)
        self._jobs = JobSubmitter(client, store, worker_id=self.config.worker_id)
        self._stop = asyncio.Event()
        self._failed_passes = 0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Claim nothing more; the pass in progress finishes what it holds."""
        self._stop.set()

    async def wait_stop(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once on a stop request; True if stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()

    async def run_forever(self, on_pass: Callable[[PassReport], object] | None = None) -> None:
        """Pass, report, rest, repeat until stopped.

        Each pass begins ``interval`` after the previous one began (at once if that one
        took longer), and its report goes to ``on_pass``: the CLI prints it there.
        """
        interval = self.config.interval.total_seconds()
        while not self._stop.is_set():
            began = time.monotonic()
            report = await self.run_once()
            if on_pass is not None:
                on_pass(report)
            await self.wait_stop(max(0.0, interval - (time.monotonic() - began)))

    def claim_page(self) -> int:
        """How many due batches one claim takes: about four rounds of applies.

        Claiming only what it can start soon leaves the rest to other workers: four
        workers on 1,000 due batches each take a fair share instead of one taking all
        while its lease runs out on the batches it has not reached.
        """
        return max(1, min(self.config.claim_size, 4 * max(1, self.config.concurrency)))

    def pass_backoff(self) -> timedelta:
        """Extra wait before the next pass: doubles with each failed pass in a row.

        A server answering garbage or a database that is down is not helped by asking
        again every interval; a clean pass resets it.
        """
        return backoff(self._failed_passes, base=self.config.interval, cap=MAX_PASS_BACKOFF)

    async def run_once(self) -> PassReport:
        """One pass over every due batch; always records a poll run, never raises.

        Whatever the API or the database answers, the error is recorded in the poll run
        and the next pass backs off (see :meth:`pass_backoff`); only cancellation ends it.
        """
        backoff = self.pass_backoff().total_seconds()
        if backoff > 0:
            log.info("backing off %.0f s after %d failed pass(es)", backoff, self._failed_passes)
            if await self.wait_stop(backoff):
                return self._stopped_report()
        started = self._now()
        self._applier.policy = self.config.results
        self._sync.start_pass()
        report = PassReport(run=PollRun(started, None, 0, 0, 0, worker_id=self.config.worker_id))
        held: set[str] = set()
        seen: set[str] = set()
        error: str | None = None
        with self._client.counting() as tally:
            try:
                while not self._stop.is_set():
                    ids = await self._store.claim_due(
                        self.config.worker_id,
                        min_age=self.config.min_age,
                        interval=self.config.interval,
                        lease=self.config.lease,
                        limit=self.claim_page(),
                    )
                    fresh = [i for i in ids if i not in seen]
                    held.update(ids)
                    if not fresh:
                        break
                    seen.update(fresh)
                    await self._process(fresh, report)
                    if len(ids) < self.claim_page():
                        break
                if not self._stop.is_set():
                    report.jobs = await self._submit_jobs()
            except asyncio.CancelledError:
                error = "interrupted: claims released for the next worker"
                raise
            except AuthenticationFailed as exc:
                # A rejected key is configuration: no later pass can succeed, so stop here.
                error = f"{type(exc).__name__}: {exc}"
                raise
            except (BatchApiError, StoreError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error("poll pass failed: %s", error)
            except Exception as exc:  # a defect must not end a long-running worker
                error = f"unexpected {type(exc).__name__}: {exc}"
                log.exception("poll pass failed unexpectedly")
            finally:
                report.requests = tally.requests  # every request, downloads included
                await asyncio.shield(self._finish(report, started, held, seen, error))
        # Only a pass that failed as a whole backs off; one batch's trouble has its own.
        self._failed_passes = self._failed_passes + 1 if error is not None else 0
        return report

    def _stopped_report(self) -> PassReport:
        now = self._now()
        return PassReport(run=PollRun(now, now, 0, 0, 0, worker_id=self.config.worker_id))

    async def _process(self, ids: list[str], report: PassReport) -> None:
        result = await self._sync.check(ids)
        for event in result.events:
            log.info("%s: %s -> %s", event.batch_id, event.old_status, event.new_status)
        for missing in sorted(result.missing):
            # Recorded once: a batch in this state is not claimed again.
            await self._store.set_results_state(missing, "batch_not_found", BATCH_NOT_FOUND_NOTE)
            report.errors[missing] = BATCH_NOT_FOUND_NOTE
        done = [b for b in result.batches.values() if _finished(b)]
        if not done:
            return
        gate = asyncio.Semaphore(max(1, self.config.concurrency))

        async def apply_one(batch: Batch) -> None:
            async with gate:
                if self._stop.is_set():
                    # Stop came before this apply began: its claim is released below.
                    return
                try:
                    async with self._lease_kept(batch.id):
                        if is_transient_failure(batch) and not is_job_batch(batch):
                            applied = await self._requeue(batch)
                        else:
                            applied = await self._applier.apply(batch)
                except (BatchApiError, StoreError) as exc:
                    report.errors[batch.id] = f"{type(exc).__name__}: {exc}"
                    log.error("applying %s failed: %s", batch.id, exc)
                    return
                except Exception as exc:  # one batch's defect must not stop the others
                    report.errors[batch.id] = f"unexpected {type(exc).__name__}: {exc}"
                    log.exception("applying %s failed unexpectedly", batch.id)
                    return
                report.applied.append(applied)

        await asyncio.gather(*(apply_one(b) for b in done))

    async def _submit_jobs(self) -> JobPass:
        """Jobs' planned batches, submitted as their model's queue has room."""
        self._jobs.worker_id = self.config.worker_id
        self._jobs.default_limits = dict(self.config.token_limits)
        self._jobs.refusal_wait = self.config.results.queue_base
        self._jobs.refusal_wait_cap = self.config.results.queue_cap
        jobs = await self._jobs.submit_ready()
        for job_batch, problem in jobs.errors.items():
            log.warning("job batch %d: %s", job_batch, problem)
        return jobs

    @contextlib.asynccontextmanager
    async def _lease_kept(self, batch_id: str) -> AsyncIterator[None]:
        """Renew this worker's claim on the batch every third of the lease meanwhile.

        An apply can outlast the lease (a 50,000-line file, a slow database); without
        renewal another worker would claim the batch and download it all again.
        """
        every = max(self.config.lease.total_seconds() / 3, 0.05)

        async def renew() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self._store.renew_claims(
                        self.config.worker_id, [batch_id], lease=self.config.lease
                    )
                except StoreError as exc:
                    log.warning("could not renew the lease on %s: %s", batch_id, exc)

        renewal = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal

    async def _requeue(self, batch: Batch) -> ApplyReport:
        """A batch with no queue room: first wait (backoff), then resubmit its assets.

        The claim comes back only once the wait recorded on the row is over; the retry
        token makes the resubmission one new batch however often this runs.
        """
        known = (await self._store.results_states([batch.id])).get(batch.id)
        if known is None or known.state != "waiting_for_queue":
            return await self._applier.apply(batch)
        result = await self._retrier.retry(batch.id)
        note = f"{WAITING_FOR_QUEUE}: resubmitted as {result.new_batch.id}"
        await self._store.set_results_state(batch.id, "resubmitted", note)
        log.info("%s: %s", batch.id, note)
        return ApplyReport(batch_id=batch.id, status=batch.status, problem=note)

    async def _finish(
        self,
        report: PassReport,
        started: datetime,
        held: set[str],
        seen: set[str],
        error: str | None,
    ) -> None:
        """Release every claim and log the pass, whatever happened."""
        if held:
            try:
                await self._store.release_claims(self.config.worker_id, sorted(held))
            except StoreError as exc:
                log.warning("could not release claims (the lease expires anyway): %s", exc)
        if error is None and report.errors:
            first = next(iter(report.errors.items()))
            error = f"{len(report.errors)} batch(es) failed, e.g. {first[0]}: {first[1]}"
        report.run = PollRun(
            started_at=started,
            finished_at=self._now(),
            checked=len(seen),
            applied=sum(1 for a in report.applied if not a.skipped_reason and not a.problem),
            failed=len(report.errors),
            error=error,
            worker_id=self.config.worker_id,
        )
        try:
            await self._store.record_poll_run(report.run)
        except StoreError as exc:
            log.warning("could not record the poll run: %s", exc)


def _finished(batch: Batch) -> bool:
    return is_terminal(batch.status)
