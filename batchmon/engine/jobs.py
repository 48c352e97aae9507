"""Jobs: any amount of work, split into batches and submitted as OpenAI's queue has room.

API (for the CLI and the desktop; store rows in ``batchmon.store.job_rows``):

- ``await create_job(store, assets, model, endpoint, limits=None, *, max_cost=None,
  attempts=2, owner=None, image_size=None) -> JobPlan``: plans ``assets`` (``AssetRow``)
  with ``core.planner`` one line at a time and stores each planned batch as it closes;
  ``image_size`` (width, height) counts every image at that size instead of the costliest,
  and the job keeps it for what it plans again (a remainder, the parts of a split);
  ``limits`` defaults to :func:`plan_limits` (stored model limits over
  :data:`DEFAULT_TOKEN_LIMITS`). Raises ``PlanError`` for a line no batch can take
  (the job is then cancelled: nothing of it is sent).
- ``JobSubmitter(client, store, worker_id=..., default_limits=...).submit_ready()
  -> JobPass``: settles ended batches (learns a refusal's limit, requeues it with
  backoff and splits it if it no longer fits, plans the retryable remainder again, each
  estimated at the job's image size) and submits queued batches while each
  fits its model's headroom. The worker calls it once per pass.
- ``await cancel_job(client, store, job_id) -> JobCancel``: drops the queued batches and
  cancels the running ones at OpenAI (their results are still applied).
- Reading: ``store.job_summaries()``, ``store.get_job(id)``, ``store.job_batches(id)``,
  ``store.model_limits()``; configuring: ``store.set_model_limit(model, tokens)``.

Exactly once: each submission carries a deterministic retry token in its metadata, and
its input file is recorded before the create, so a submitter taking over after a crash
finds the batch made from it instead of making a second one; the assets move to the new
batch in the transaction that records it. Why the queue exists: docs/jobs.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openai.types import Batch

from batchmon.core.metadata import JOB_KEY
from batchmon.core.planner import (
    ASSUMED_OUTPUT_TOKENS,
    PlanError,
    PlanLimits,
    PlannedBatch,
    Planner,
    TokenEstimator,
)
from batchmon.core.pricing import estimate_cost
from batchmon.core.requests import CHAT_COMPLETIONS, DEFAULT_MODEL, build_tag_request, to_jsonl
from batchmon.core.tokens import request_tokens
from batchmon.engine.failures import backoff, is_permanent_reason, says_try_again
from batchmon.engine.retry import requested_model
from batchmon.openai_batches import ApiServerError, ApiUnreachable, BatchApiError, BatchClient
from batchmon.store import AssetRow, Store, StoreError
from batchmon.store.job_rows import EndedJobBatch, JobBatch, JobBatchPart, JobCancel

log = logging.getLogger(__name__)

JOB_TOKEN_KEY = "batchmon_job_token"
"""Metadata key of a job batch's retry token (``jb_<planned batch>_<submission>``)."""
CANCELLED_BEFORE_START = "the job was cancelled before this batch found queue room"
LOOKUP_MARGIN_S = 300
"""Seconds before an upload to look back for a batch made from it (clock skew)."""

DEFAULT_TOKEN_LIMITS: Mapping[str, int] = {
    "gpt-4o": 90_000,
    "gpt-4o-mini": 2_000_000,
    "gpt-4-turbo": 900_000,
}
"""Usage tier 1 enqueued-token limits (docs/jobs.md): the lowest, so never too many.

A higher tier's limit is configured (``store.set_model_limit``) or learned from the
first refusal; a stored limit always wins over these.
"""

_LIMIT = re.compile(r"Limit:\s*([\d,._ ]+)\s*enqueued tokens", re.I)


@dataclass(frozen=True, slots=True)
class JobPlan:
    """The stored plan of a new job: what the confirmation shows."""

    job_id: str
    batches: int
    requests: int
    estimated_tokens: int
    estimated_cost: float | None
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class JobPass:
    """What one :meth:`JobSubmitter.submit_ready` did."""

    submitted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    finished: int = 0
    replanned: int = 0
    learned: dict[str, int] = field(default_factory=dict)
    split: dict[int, int] = field(default_factory=dict)
    """Planned batch -> parts, for refused batches too big for the limit learned."""
    errors: dict[int, str] = field(default_factory=dict)


def is_job_batch(batch: Batch) -> bool:
    """A batch a job submitted: its queue refusals are the job's to handle."""
    return bool(batch.metadata and JOB_TOKEN_KEY in batch.metadata)


def learned_limit(errors: Iterable[Mapping[str, Any]] | None) -> int | None:
    """The limit a ``token_limit_exceeded`` message names ("Limit: 90,000 enqueued tokens")."""
    for error in errors or ():
        found = _LIMIT.search(str(error.get("message") or ""))
        if found:
            digits = re.sub(r"\D", "", found.group(1))
            if digits and int(digits) > 0:
                return int(digits)
    return None


def _refused_for_room(errors: Iterable[Mapping[str, Any]] | None) -> bool:
    """Every error says "queue full / try again": the batch goes back to the queue."""
    data = list(errors or ())
    return bool(data) and all(says_try_again(e.get("code"), e.get("message")) for e in data)


async def plan_limits(
    store: Store, defaults: Mapping[str, int] = DEFAULT_TOKEN_LIMITS
) -> PlanLimits:
    """Planning limits: each model's stored limit (configured or learned) over ``defaults``."""
    stored = {m.model: m.enqueued_token_limit for m in await store.model_limits()}
    return PlanLimits(token_limits={**defaults, **stored})


def sized_estimate(image_size: tuple[int, int] | None) -> TokenEstimator:
    """The planner's token estimate with every image at ``image_size`` (None: the costliest)."""
    return functools.partial(request_tokens, image_size=image_size)


def job_lines(
    assets: Iterable[AssetRow],
    model: str = DEFAULT_MODEL,
    endpoint: str = CHAT_COMPLETIONS,
    skipped: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """One request line per sendable asset, as a job holds them (and a plan shown before
    it is stored counts them); the others are noted in ``skipped``."""
    skipped = {} if skipped is None else skipped
    for asset in assets:
        if asset.status == "pending" and asset.batch_id:
            skipped[asset.id] = f"already pending in batch {asset.batch_id}"
            continue
        if asset.status == "completed":
            skipped[asset.id] = "already tagged"
            continue
        yield from _lines_for([asset], model, endpoint, skipped)


def _lines_for(
    assets: Iterable[AssetRow], model: str, endpoint: str, skipped: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """The request line of each asset whose image URL makes one."""
    for asset in assets:
        try:
            yield build_tag_request(asset.id, asset.image_url or "", model=model, endpoint=endpoint)
        except ValueError as exc:
            skipped[asset.id] = str(exc)


async def create_job(
    store: Store,
    assets: Iterable[AssetRow],
    model: str = DEFAULT_MODEL,
    endpoint: str = CHAT_COMPLETIONS,
    limits: PlanLimits | None = None,
    *,
    max_cost: float | None = None,
    attempts: int = 2,
    owner: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> JobPlan:
    """Plan ``assets`` into batches and store them as one job, queued for submission.

    Lines are built and planned one at a time (no JSONL is kept), and each batch is
    stored the moment the planner closes it, so a 250,000-asset job never sits in memory.
    The queue sees the job only once every batch is stored: a plan that fails half-way
    (``PlanError``, a lost connection) is cancelled, never half sent.
    """
    limits = limits or await plan_limits(store)
    job_id = await store.create_job(
        model,
        endpoint,
        attempts=attempts,
        max_cost=max_cost,
        owner=owner,
        planning=True,
        image_size=image_size,
    )
    skipped: dict[str, str] = {}
    planner = Planner(limits, keep_lines=False, estimate=sized_estimate(image_size))
    count = requests = tokens = 0
    cost: float | None = 0.0

    async def keep(batch: PlannedBatch) -> None:
        nonlocal count, requests, tokens, cost
        await store.add_job_batch(
            job_id,
            batch.custom_ids,
            byte_size=batch.byte_size,
            estimated_tokens=batch.estimated_tokens,
            estimated_cost=batch.cost.batch_usd,
        )
        count, requests, tokens = (
            count + 1,
            requests + batch.request_count,
            tokens + batch.estimated_tokens,
        )
        cost = None if cost is None or batch.cost.batch_usd is None else cost + batch.cost.batch_usd

    try:
        for line in job_lines(assets, model, endpoint, skipped):
            closed = planner.add(line)
            if closed is not None:
                await keep(closed)
        for batch in planner.finish():
            await keep(batch)
    except BaseException:
        # Nothing of a plan that fails half-way is sent: the job never opens.
        with contextlib.suppress(StoreError):
            await asyncio.shield(store.cancel_job(job_id))
        raise
    await store.start_job(job_id)
    log.info("job %s: %d batch(es), %d request(s) planned", job_id, count, requests)
    return JobPlan(job_id, count, requests, tokens, cost, skipped)


async def cancel_job(client: BatchClient, store: Store, job_id: str) -> JobCancel:
    """Stop a job: queued batches dropped, running ones cancelled (results still applied)."""
    result = await store.cancel_job(job_id)
    for batch_id in result.running:
        try:
            await client.cancel(batch_id)
        except BatchApiError as exc:
            log.warning("job %s: could not cancel %s: %s", job_id, batch_id, exc)
    return result


class JobSubmitter:
    """Submits planned batches as headroom frees and sees each batch through.

    Several submitters (one per worker) cooperate: the store hands each planned batch
    to one of them at a time, and only while its model's queue has room for it.
    """

    def __init__(
        self,
        client: BatchClient,
        store: Store,
        *,
        worker_id: str,
        default_limits: Mapping[str, int] = DEFAULT_TOKEN_LIMITS,
        lease: timedelta = timedelta(minutes=10),
        refusal_wait: timedelta = timedelta(minutes=1),
        refusal_wait_cap: timedelta = timedelta(minutes=30),
        max_per_pass: int = 100,
    ) -> None:
        self._client = client
        self._store = store
        self.worker_id = worker_id
        self.default_limits = dict(default_limits)
        self.lease = lease
        self.refusal_wait = refusal_wait
        self.refusal_wait_cap = refusal_wait_cap
        self.max_per_pass = max_per_pass

    async def submit_ready(self) -> JobPass:
        """Settle what ended, then submit what fits; errors are per batch, in the report."""
        report = JobPass()
        for ended in await self._store.ended_job_batches():
            try:
                await self._settle(ended, report)
            except (BatchApiError, StoreError) as exc:
                report.errors[ended.id] = f"{type(exc).__name__}: {exc}"
                log.error("job batch %d: settling failed: %s", ended.id, exc)
        while len(report.submitted) < self.max_per_pass:
            claimed = await self._store.claim_job_batch(
                self.worker_id, lease=self.lease, default_limits=self.default_limits
            )
            if claimed is None:
                break
            try:
                report.submitted.append(await self._submit(claimed))
            except (BatchApiError, StoreError) as exc:
                # The lease runs out and the batch is taken over with the same token.
                report.errors[claimed.id] = f"{type(exc).__name__}: {exc}"
                log.error("job batch %d: submitting failed: %s", claimed.id, exc)
                break
        return report

    # -- submitting --

    async def _submit(self, claimed: JobBatch) -> str:
        token = claimed.retry_token or f"jb_{claimed.id}_{claimed.attempts}"
        batch = await self._made_before(claimed, token)
        if batch is None:
            batch = await self._create(claimed, token)
        try:
            moved, cancelled = await self._store.record_job_batch_created(
                claimed.id, batch.model_dump(mode="json")
            )
        except StoreError:
            # Another submitter recorded its own batch first (this one's lease ran out).
            await self._withdraw(batch)
            raise
        log.info(
            "job batch %d (#%d) submitted as %s: %d asset(s)",
            claimed.id,
            claimed.ordinal,
            batch.id,
            moved,
        )
        if cancelled:
            await self._withdraw(batch)
        return batch.id

    async def _made_before(self, claimed: JobBatch, token: str) -> Batch | None:
        """The batch an earlier holder of this token created from its recorded upload."""
        if claimed.input_file_id is None or claimed.uploaded_at is None:
            return None  # nothing was uploaded for this token: no create can have happened
        return await self._client.find_batch_by_metadata(
            JOB_TOKEN_KEY,
            token,
            created_after=claimed.uploaded_at - LOOKUP_MARGIN_S,
            input_file_id=claimed.input_file_id,
        )

    async def _create(self, claimed: JobBatch, token: str) -> Batch:
        data = await self._request_lines(claimed)
        uploaded = await self._client.upload_jsonl(
            data, filename=f"job-{claimed.job_id}-{claimed.ordinal}.jsonl"
        )
        await self._store.record_job_batch_upload(
            claimed.id, self.worker_id, uploaded.id, uploaded.created_at
        )
        metadata = {JOB_KEY: claimed.job_id, JOB_TOKEN_KEY: token}
        try:
            return await self._client.create_batch(
                input_file_id=uploaded.id, endpoint=claimed.endpoint, metadata=metadata
            )
        except (ApiServerError, ApiUnreachable):
            # The create may have happened before the error (the SDK retries it too).
            found = await self._client.find_batch_by_metadata(
                JOB_TOKEN_KEY,
                token,
                created_after=uploaded.created_at - LOOKUP_MARGIN_S,
                input_file_id=uploaded.id,
            )
            if found is None:
                raise
            return found

    async def _request_lines(self, claimed: JobBatch) -> bytes:
        assets = await self._store.assets_by_ids(claimed.asset_ids)
        left_out: dict[str, str] = {}
        lines = list(_lines_for(assets, claimed.model, claimed.endpoint, left_out))
        for asset_id, reason in left_out.items():
            log.warning("job batch %d: asset %s left out: %s", claimed.id, asset_id, reason)
        if not lines:
            raise StoreError(f"job batch {claimed.id}: none of its assets has a request to send")
        return to_jsonl(lines)

    async def _withdraw(self, batch: Batch) -> None:
        try:
            await self._client.cancel(batch.id)
        except BatchApiError as exc:
            log.warning("could not cancel %s: %s", batch.id, exc)

    # -- settling --

    async def _settle(self, ended: EndedJobBatch, report: JobPass) -> None:
        job_model = ended.job_model or requested_model(ended.model)
        endpoint = ended.endpoint or CHAT_COMPLETIONS
        if ended.status == "failed" and _refused_for_room(ended.errors):
            if ended.job_status == "running":
                await self._requeue(ended, job_model, report)
                return
            # Cancelled before it could start: its assets are free again, with why.
            await self._store.mark_batch_failed(ended.openai_batch_id, CANCELLED_BEFORE_START)
            await self._store.finish_job_batch(ended.id, actual_cost=None)
            report.finished += 1
            return
        if not ended.applied:
            return  # the worker applies its results first
        retry: list[str] = []
        size = tokens = 0
        cost: float | None = None
        estimate = sized_estimate(ended.image_size)
        retryable = [
            asset
            for asset in await self._store.batch_assets(ended.openai_batch_id)
            if asset.status == "failed" and not is_permanent_reason(asset.error)
        ]
        for line in _lines_for(retryable, job_model, endpoint, {}):
            retry.append(line["custom_id"])
            size += len(to_jsonl([line]))
            tokens += estimate(line["body"], endpoint)
        if retry:
            usage = {"input_tokens": tokens, "output_tokens": ASSUMED_OUTPUT_TOKENS * len(retry)}
            cost = estimate_cost(job_model, usage).batch_usd
        actual = estimate_cost(ended.model, ended.usage, ended.request_counts).batch_usd
        new = await self._store.finish_job_batch(
            ended.id,
            actual_cost=actual,
            retry_ids=retry,
            retry_bytes=size,
            retry_tokens=tokens,
            retry_cost=cost,
        )
        report.finished += 1
        if new is not None:
            report.replanned += 1
            log.info("job batch %d: %d retryable request(s) planned again", ended.id, len(retry))

    async def _requeue(self, ended: EndedJobBatch, model: str, report: JobPass) -> None:
        limit = learned_limit(ended.errors)
        if limit is not None:
            await self._store.set_model_limit(model, limit, source="learned")
            report.learned[model] = limit
        wait = backoff(max(ended.attempts, 1), base=self.refusal_wait, cap=self.refusal_wait_cap)
        note = f"refused for queue room ({ended.openai_batch_id}); back in the queue"
        if not await self._store.record_job_batch_refused(ended.id, note, retry_in=wait):
            return
        report.refused.append(ended.openai_batch_id)
        log.info("job batch %d: %s, waiting %s", ended.id, note, wait)
        limits = PlanLimits(token_limits={model: limit}) if limit is not None else None
        budget = limits.token_budget(model) if limits is not None else None
        if limits is not None and budget is not None and ended.estimated_tokens > budget:
            await self._split(ended, model, limits, report)

    async def _split(
        self, ended: EndedJobBatch, model: str, limits: PlanLimits, report: JobPass
    ) -> None:
        """A refused batch bigger than the limit now known could never start: split it."""
        endpoint = ended.endpoint or CHAT_COMPLETIONS
        waiting = [
            a
            for a in await self._store.batch_assets(ended.openai_batch_id)
            if a.status == "pending"
        ]
        skipped: dict[str, str] = {}
        planner = Planner(limits, keep_lines=False, estimate=sized_estimate(ended.image_size))
        try:
            planned = [
                batch
                for line in _lines_for(waiting, model, endpoint, skipped)
                if (batch := planner.add(line)) is not None
            ]
            planned.extend(planner.finish())
        except PlanError as exc:  # one request alone is over the limit: nothing splits it
            log.warning("job batch %d cannot be split for the limit: %s", ended.id, exc)
            return
        if len(planned) < 2:
            return
        parts = [
            JobBatchPart(b.custom_ids, b.byte_size, b.estimated_tokens, b.cost.batch_usd)
            for b in planned
        ]
        count = await self._store.split_job_batch(ended.id, parts)
        report.split[ended.id] = count
        log.info("job batch %d: split into %d for a limit of %s", ended.id, count, limits)
