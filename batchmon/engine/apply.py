"""Apply a finished batch's results to its assets, streaming, idempotently.

The output and error files are read line by line and written through the store in
chunks, so a 50,000-line file never sits in memory. Every line gets an outcome; a bad
line costs that one asset a reason, never the rest of the batch. The store skips assets
that are already final, so applying twice (or again after a crash) changes nothing new.

A batch is finished (assets without a line failed, ``applied_at`` set) only from files
consistent with it: at least ``request_counts.completed`` output lines and ``failed``
error lines. A short, empty or cut-off download is applied as far as it goes and
fetched again later; after a few tries the batch is flagged "results incomplete", and
still no asset is failed for lines that never arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from openai.types import Batch

from batchmon.core.results import LineOutcome, ResultParser
from batchmon.core.status import is_terminal
from batchmon.engine.failures import WAITING_FOR_QUEUE, backoff, is_transient_failure
from batchmon.openai_batches import BatchApiError, BatchClient, FileNotFound
from batchmon.store import ApplyCounts, BatchRow, ResultRow, ResultsState, Store

log = logging.getLogger(__name__)

UNRETURNED_REASON = "no result returned"
"""Why an asset failed when neither the output nor the error file mentioned it."""

SAMPLE_SIZE = 20
"""How many rejected lines an :class:`ApplyReport` keeps verbatim (the rest are counted)."""

QUEUE_CHUNK_LINES = 1000
QUEUE_CHUNKS = 8
"""Parsed lines wait in chunks of this many, at most this many chunks ahead."""

ProgressCallback = Callable[[int], None]

RESULTS_EXPIRED_NOTE = (
    "results expired: the output is gone before it was applied; "
    "retry rebuilds the requests from the assets"
)


@dataclass(frozen=True, slots=True)
class ResultsPolicy:
    """How patiently missing results are fetched again, and queue room waited for."""

    refetch_base: timedelta = timedelta(minutes=2)
    refetch_cap: timedelta = timedelta(hours=2)
    flag_after: int = 3
    queue_base: timedelta = timedelta(minutes=5)
    queue_cap: timedelta = timedelta(hours=1)


@dataclass(slots=True)
class ApplyReport:
    """What applying one batch did, line by line and asset by asset.

    ``ok_lines`` tagged an asset, ``failed_lines`` failed one with a reason (error lines,
    refusals, unusable content), ``rejected_lines`` named no asset of this batch once
    (malformed, unknown or duplicate custom_id). ``reasons`` counts the last two kinds by
    code; ``samples`` keeps the first few verbatim.
    """

    batch_id: str
    status: str
    lines: int = 0
    ok_lines: int = 0
    failed_lines: int = 0
    rejected_lines: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[LineOutcome] = field(default_factory=list)
    counts: ApplyCounts = field(default_factory=ApplyCounts)
    unreturned: int = 0
    already_applied: bool = False
    skipped_reason: str | None = None
    output_lines: int = 0
    error_lines: int = 0
    problem: str | None = None

    @property
    def changed(self) -> int:
        """Assets this apply moved to completed or failed."""
        return self.counts.completed + self.counts.failed

    def summary(self) -> str:
        """One line for a log or a terminal."""
        if self.skipped_reason:
            return f"{self.batch_id}: {self.skipped_reason}"
        if self.problem:
            return f"{self.batch_id} ({self.status}): {self.problem}"
        text = (
            f"{self.batch_id} ({self.status}): {self.counts.completed} tagged, "
            f"{self.counts.failed} failed, {self.counts.skipped} already done"
        )
        if self.rejected_lines:
            text += f"; {self.rejected_lines} line(s) rejected"
        return text

    def count(self, outcome: LineOutcome, row: ResultRow | None) -> None:
        """Tally one line: tagged, failed for its asset, or rejected (no asset to blame)."""
        if outcome.ok and row is not None:
            self.ok_lines += 1
            return
        if row is not None:
            self.failed_lines += 1
        else:
            self.rejected_lines += 1
        self.reasons[outcome.error_code or ("rejected" if row is None else "failed")] += 1
        if len(self.samples) < SAMPLE_SIZE:
            self.samples.append(outcome)


def validation_summary(batch: Batch, *, limit: int = 3) -> str:
    """A person-readable reason for a batch OpenAI rejected before running anything."""
    data = batch.errors.data if batch.errors and batch.errors.data else []
    if not data:
        return "batch failed validation: the input file was rejected"
    parts = []
    for err in data[:limit]:
        where = f"line {err.line}: " if err.line is not None else ""
        code = f"[{err.code}] " if err.code else ""
        parts.append(f"{where}{code}{err.message or 'invalid input'}")
    text = "batch failed validation: " + "; ".join(parts)
    if len(data) > limit:
        text += f" (and {len(data) - limit} more)"
    return text


def _files(batch: Batch) -> list[tuple[bool, str]]:
    """(is the error file, id): the output then the error file; None and "" mean none."""
    pairs = ((False, batch.output_file_id), (True, batch.error_file_id))
    return [(is_error, fid) for is_error, fid in pairs if fid]


def shortfall(batch: Batch, report: ApplyReport) -> tuple[int, int] | None:
    """(received, expected) lines when the files hold fewer than the batch counted."""
    counts = batch.request_counts
    if counts is None:
        return None
    got_out = min(report.output_lines, counts.completed)
    got_err = min(report.error_lines, counts.failed)
    expected = counts.completed + counts.failed
    if got_out + got_err >= expected:
        return None
    return got_out + got_err, expected


class BatchApplier:
    """Applies finished batches; one instance may serve many batches concurrently."""

    def __init__(
        self,
        client: BatchClient,
        store: Store,
        *,
        unreturned_reason: str = UNRETURNED_REASON,
        policy: ResultsPolicy | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._unreturned_reason = unreturned_reason
        self.policy = policy or ResultsPolicy()

    async def apply(
        self, batch: Batch, *, on_progress: ProgressCallback | None = None, force: bool = False
    ) -> ApplyReport:
        """Apply ``batch`` if it has reached a state with results; otherwise do nothing.

        ``force`` re-reads the files even if the store says the batch was applied (the
        store still skips finished assets, so it only repairs, never doubles).
        """
        report = ApplyReport(batch_id=batch.id, status=batch.status)
        if not is_terminal(batch.status):
            report.skipped_reason = f"still {batch.status}: nothing to apply yet"
            return report
        row = await self._store.get_batch(batch.id)
        if not force and row is not None and row.applied_at is not None and not row.pending_assets:
            report.already_applied = True
            report.skipped_reason = "already applied"
            return report
        known_state = await self._results_state(batch.id)
        if batch.status == "failed":
            if is_transient_failure(batch):
                return await self.wait_for_queue(batch, row, known_state, report)
            report.counts = await self._store.mark_batch_failed(batch.id, validation_summary(batch))
            return report
        known = asyncio.ensure_future(self._known_ids(batch.id))
        try:
            rows = self._result_rows(batch, known, report, on_progress)
            counts = await self._store.apply_results(batch.id, rows)
        except FileNotFound:
            report.problem = RESULTS_EXPIRED_NOTE
            await self._store.set_results_state(batch.id, "results_expired", RESULTS_EXPIRED_NOTE)
            log.warning("%s: %s", batch.id, RESULTS_EXPIRED_NOTE)
            return report
        except BatchApiError as err:
            await self._refetch_later(batch, f"download failed: {err.message}", known_state)
            raise
        finally:
            if not known.done():
                known.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await known
        report.counts = counts
        missing = shortfall(batch, report)
        if missing is not None:
            received, expected = missing
            report.problem = await self._refetch_later(
                batch, f"results incomplete: {received} of {expected} received", known_state
            )
            log.warning("%s: %s", batch.id, report.problem)
            return report
        leftover = await self._store.finish_apply(
            batch.id, unreturned_reason=self._unreturned_reason
        )
        if known_state is not None:
            await self._store.set_results_state(batch.id, None)
        report.unreturned = leftover.failed
        report.counts = counts + leftover
        log.info("applied %s", report.summary())
        return report

    async def _results_state(self, batch_id: str) -> ResultsState | None:
        return (await self._store.results_states([batch_id])).get(batch_id)

    async def _refetch_later(self, batch: Batch, note: str, known: ResultsState | None) -> str:
        """Leave the batch unfinished, to be downloaded again after a backoff.

        Returns what the person is told: after ``flag_after`` tries the note itself,
        flagged as "results_incomplete"; before, that it is being fetched again.
        """
        refetching = known is not None and known.state in ("refetching", "results_incomplete")
        attempt = (known.attempts if known is not None and refetching else 0) + 1
        policy = self.policy
        wait = backoff(attempt, base=policy.refetch_base, cap=policy.refetch_cap)
        flagged = attempt >= policy.flag_after
        shown = note if flagged else f"{note}; downloading again (try {attempt})"
        state = "results_incomplete" if flagged else "refetching"
        await self._store.set_results_state(batch.id, state, shown, check_again_in=wait)
        return shown

    async def wait_for_queue(
        self,
        batch: Batch,
        row: BatchRow | None,
        known: ResultsState | None,
        report: ApplyReport,
    ) -> ApplyReport:
        """A batch OpenAI had no queue room for: its assets wait, none fails.

        The wait grows with the retry attempt (a resubmission that finds the queue full
        again waits longer) and with the waits already spent on this batch.
        """
        attempt = max(row.attempt if row is not None else 1, 1)
        if known is not None and known.state == "waiting_for_queue":
            attempt += known.attempts
        policy = self.policy
        wait = backoff(attempt, base=policy.queue_base, cap=policy.queue_cap)
        await self._store.set_results_state(
            batch.id, "waiting_for_queue", WAITING_FOR_QUEUE, check_again_in=wait
        )
        report.problem = WAITING_FOR_QUEUE
        log.info("%s: %s (%s)", batch.id, WAITING_FOR_QUEUE, validation_summary(batch))
        return report

    async def _known_ids(self, batch_id: str) -> frozenset[str]:
        return frozenset(await self._store.batch_asset_ids(batch_id))

    async def _result_rows(
        self,
        batch: Batch,
        known_ids: Awaitable[frozenset[str]],
        report: ApplyReport,
        on_progress: ProgressCallback | None,
    ) -> AsyncIterator[ResultRow]:
        """Yield one row per asset that has a line, never two; count everything else.

        Lines are downloaded and parsed by a separate task into a small bounded queue,
        so parsing the next chunk overlaps the database writing the last one (and the
        lookup of the batch's asset ids), while memory stays bounded by the queue.
        """
        queue: asyncio.Queue[list[LineOutcome] | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        producer = asyncio.create_task(self._parse_files(batch, queue, report, on_progress))
        try:
            known = await known_ids
            emitted: set[str] = set()
            while (chunk := await queue.get()) is not None:
                for parsed in chunk:
                    asset_id = parsed.custom_id
                    if (
                        parsed.ok
                        and asset_id is not None
                        and asset_id in known
                        and asset_id not in emitted
                    ):  # the common case, spelled out: what report.count and _row_for do
                        report.ok_lines += 1
                        emitted.add(asset_id)
                        yield ResultRow(asset_id, True, list(parsed.tags or ()))
                        continue
                    outcome = _check_known(_known_spelling(parsed, known), known)
                    row = _row_for(outcome, emitted)
                    report.count(outcome, row)
                    if row is not None:
                        emitted.add(row.asset_id)
                        yield row
            await producer  # re-raises a download error
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def _parse_files(
        self,
        batch: Batch,
        queue: asyncio.Queue[list[LineOutcome] | None],
        report: ApplyReport,
        on_progress: ProgressCallback | None,
    ) -> None:
        # Known ids are checked by the consumer, so parsing need not wait for them.
        parser = ResultParser(None)
        chunk: list[LineOutcome] = []
        try:
            for is_error, file_id in _files(batch):
                line_no = 0
                lines = self._client.iter_output_lines(file_id)
                try:
                    async for raw in lines:
                        line_no += 1
                        if not raw.strip():
                            continue
                        report.lines += 1
                        parsed = parser.feed(raw, line_no)
                        if parsed.custom_id is not None:
                            if is_error:
                                report.error_lines += 1
                            else:
                                report.output_lines += 1
                        chunk.append(parsed)
                        if len(chunk) >= QUEUE_CHUNK_LINES:
                            await queue.put(chunk)
                            chunk = []
                            if on_progress is not None:
                                on_progress(report.lines)
                finally:
                    await _close(lines)
            if chunk:
                await queue.put(chunk)
            if on_progress is not None:
                on_progress(report.lines)
        finally:
            await queue.put(None)


async def _close(lines: AsyncIterator[bytes]) -> None:
    """Free the download's connection when the consumer stops early."""
    aclose = getattr(lines, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _known_spelling(outcome: LineOutcome, known: frozenset[str]) -> LineOutcome:
    """The line with its custom_id spelt as the store spells the asset id.

    Asset ids are UUIDs, which the store returns in lower case; an app that wrote its
    custom_ids in upper case (Swift's ``uuidString``, .NET's ``ToUpper``) still names
    the same asset, and its paid-for result must not be rejected as unknown.
    """
    custom_id = outcome.custom_id
    if custom_id is None or custom_id in known:
        return outcome
    lowered = custom_id.lower()
    return replace(outcome, custom_id=lowered) if lowered in known else outcome


def _check_known(outcome: LineOutcome, known: frozenset[str]) -> LineOutcome:
    """Reject a line naming an asset that is not part of this batch."""
    if outcome.custom_id is None or outcome.custom_id in known:
        return outcome
    return replace(
        outcome,
        ok=False,
        tags=None,
        error_code="unknown_custom_id",
        reason=f"custom_id {outcome.custom_id!r} was not part of this batch.",
    )


def _row_for(outcome: LineOutcome, emitted: set[str]) -> ResultRow | None:
    """The asset write this line asks for, if it names one of the batch's assets once."""
    asset_id = outcome.custom_id
    if asset_id is None or outcome.error_code == "unknown_custom_id" or asset_id in emitted:
        return None
    if outcome.ok:
        return ResultRow(asset_id=asset_id, ok=True, tags=list(outcome.tags or []))
    return ResultRow(asset_id=asset_id, ok=False, error=outcome.reason or "request failed")
