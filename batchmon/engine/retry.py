"""Resubmit what did not succeed, exactly once, however often Retry is pressed.

Only the failed, expired or cancelled requests go again (all of them if validation
failed, or if the batch is gone: unknown to the API, or its output expired before it was
applied). Their lines come from the original input file while OpenAI still keeps it, and
are rebuilt from the assets by the same builder ``batchmon submit`` uses when it does not.

Exactly one new batch: the SDK retries ``POST /batches`` without an idempotency key, and
two people (or processes) may press Retry at once. Every attempt carries a deterministic
retry token in its metadata; before creating, we look for a batch with that token, and
the store's ``begin_retry`` refuses a second link. A process that loses the race cancels
the batch it made and reports the winner.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from openai.types import Batch

from batchmon.core.models import base_model
from batchmon.core.requests import CHAT_COMPLETIONS, DEFAULT_MODEL, build_tag_request, to_jsonl
from batchmon.core.results_states import GONE_STATES
from batchmon.core.status import is_terminal
from batchmon.engine.apply import BatchApplier
from batchmon.engine.failures import is_permanent_reason
from batchmon.openai_batches import ApiServerError, ApiUnreachable, BatchApiError, BatchClient
from batchmon.store import AssetRow, BatchRow, RetryRefused, Store, StoreError

log = logging.getLogger(__name__)

RETRY_OF_KEY = "retry_of"
RETRY_TOKEN_KEY = "batchmon_retry_token"
ATTEMPT_KEY = "batchmon_attempt"

Source = Literal["input_file", "rebuilt", "mixed", "existing"]


class RetryNotPossible(StoreError):
    """Retry cannot run for this batch now; the message says why and what to do."""


def retry_token(old_batch_id: str, attempt: int) -> str:
    """The same old batch and attempt always give the same token, in every process."""
    digest = hashlib.sha256(f"batchmon-retry\x1f{old_batch_id}\x1f{attempt}".encode()).hexdigest()
    return f"rt_{digest[:32]}"


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Which assets of ``old`` go again, and why."""

    old: BatchRow
    assets: list[AssetRow]
    attempt: int
    token: str
    reason: str
    left_out: tuple[AssetRow, ...] = ()
    """Permanent failures (a bad image URL, refused content) not sent again."""

    @property
    def asset_ids(self) -> list[str]:
        return [asset.id for asset in self.assets]


@dataclass(frozen=True, slots=True)
class RetryResult:
    """The batch that now carries the resubmitted assets."""

    old_batch_id: str
    new_batch: Batch
    asset_count: int
    source: Source
    created: bool
    skipped_assets: tuple[str, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)
    """Asset id -> reason, for permanent failures left out (``include_permanent``)."""

    def summary(self) -> str:
        verb = "created" if self.created else "already existed as"
        text = (
            f"retry of {self.old_batch_id} {verb} {self.new_batch.id} "
            f"({self.asset_count} asset(s), from {self.source.replace('_', ' ')})"
        )
        if self.left_out:
            text += f"; {len(self.left_out)} permanent failure(s) left out"
        return text


def _needs_retry(asset: AssetRow) -> bool:
    return asset.status != "completed"


async def gone_note(store: Store, batch_id: str) -> str | None:
    """Why the batch's results can never arrive (not found, expired), or None."""
    state = (await store.results_states([batch_id])).get(batch_id)
    return (state.note or state.state) if state and state.state in GONE_STATES else None


def _leave_out_permanent(plan: RetryPlan, include_permanent: bool) -> RetryPlan:
    """Keep the requests that can succeed; list the permanent failures apart.

    An asset failed for a bad image URL or refused content fails again unchanged: it
    goes again only when the person asks for it (``include_permanent``).
    """
    if include_permanent:
        return plan
    permanent = tuple(
        a for a in plan.assets if a.status == "failed" and is_permanent_reason(a.error)
    )
    if not permanent:
        return plan
    kept = [a for a in plan.assets if a not in permanent]
    return replace(plan, assets=kept, left_out=permanent)


async def plan_retry(store: Store, batch_id: str, *, include_permanent: bool = False) -> RetryPlan:
    """Work out what to resubmit for ``batch_id``; raises :class:`RetryNotPossible`.

    By default only failures a retry can fix go again (see :func:`_leave_out_permanent`).
    """
    plan = await _plan(store, batch_id)
    return _leave_out_permanent(plan, include_permanent)


async def _plan(store: Store, batch_id: str) -> RetryPlan:
    old = await store.get_batch(batch_id)
    if old is None:
        raise RetryNotPossible(f"batch {batch_id} is not in the database: nothing to retry")
    gone = await gone_note(store, batch_id)
    if gone is not None:
        assets = [a for a in await store.batch_assets(batch_id) if _needs_retry(a)]
        attempt = old.attempt + 1
        return RetryPlan(old, assets, attempt, retry_token(old.id, attempt), gone)
    if not is_terminal(old.status):
        raise RetryNotPossible(
            f"batch {batch_id} is still {old.status}: wait for it to finish, or cancel it first"
        )
    if old.status != "failed" and old.applied_at is None and old.pending_assets:
        raise RetryNotPossible(
            f"batch {batch_id} has results that are not applied yet: "
            "let the worker (or `batchmon worker --once`) apply them first"
        )
    assets = [a for a in await store.batch_assets(batch_id) if _needs_retry(a)]
    attempt = old.attempt + 1
    if old.status == "failed":
        reason = "the batch failed validation: every request goes again"
    else:
        reason = f"{len(assets)} request(s) did not succeed ({old.status})"
    return RetryPlan(old, assets, attempt, retry_token(old.id, attempt), reason)


class Retrier:
    """Plans and executes retries; one per process keeps two clicks to one batch."""

    def __init__(self, client: BatchClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def retry(self, batch_id: str, *, include_permanent: bool = False) -> RetryResult:
        """Resubmit what can succeed in ``batch_id``; returns the one new batch.

        Permanent failures (a bad image URL, refused content) are listed in the result's
        ``left_out`` and sent only with ``include_permanent``.
        """
        lock = self._locks.setdefault(batch_id, asyncio.Lock())
        async with lock:
            return await self._retry(batch_id, include_permanent)

    async def _retry(self, batch_id: str, include_permanent: bool) -> RetryResult:
        old = await self._store.get_batch(batch_id)
        if old is not None and old.retried_by:
            return await self._existing(old, old.retried_by)
        unsettled = old is None or not is_terminal(old.status) or old.applied_at is None
        if unsettled and await gone_note(self._store, batch_id) is None:
            await self._catch_up(batch_id)
        plan = await plan_retry(self._store, batch_id, include_permanent=include_permanent)
        found = await self._client.find_batch_by_metadata(
            RETRY_TOKEN_KEY, plan.token, created_after=_created_after(plan.old)
        )
        if found is not None:
            return await self._link(plan, found, source="existing", created=False, skipped=())
        if not plan.assets and plan.left_out:
            raise RetryNotPossible(
                f"batch {batch_id}: the {len(plan.left_out)} failure(s) left are permanent "
                f"(e.g. {plan.left_out[0].error}); include them to send them unchanged anyway"
            )
        if not plan.assets:
            raise RetryNotPossible(f"batch {batch_id}: every asset succeeded, nothing to retry")
        data, source, skipped = await self._input_lines(plan)
        if not data:
            raise RetryNotPossible(
                f"batch {batch_id}: none of the {len(plan.assets)} asset(s) to retry has an "
                "image URL left to build a request from"
            )
        uploaded = await self._client.upload_jsonl(data, filename=f"retry-{batch_id}.jsonl")
        metadata = {
            RETRY_OF_KEY: plan.old.id,
            RETRY_TOKEN_KEY: plan.token,
            ATTEMPT_KEY: str(plan.attempt),
        }
        try:
            new = await self._client.create_batch(
                input_file_id=uploaded.id,
                endpoint=plan.old.endpoint or CHAT_COMPLETIONS,
                metadata=metadata,
            )
        except (ApiServerError, ApiUnreachable):
            # The create may have happened before the error: look before giving up. Only a
            # batch made from this upload is ours; another process's is linked or cancelled
            # by its own retry.
            found = await self._client.find_batch_by_metadata(
                RETRY_TOKEN_KEY,
                plan.token,
                created_after=_created_after(plan.old),
                input_file_id=uploaded.id,
            )
            if found is None:
                raise
            new = found
        return await self._link(plan, new, source=source, created=True, skipped=skipped)

    async def _catch_up(self, batch_id: str) -> None:
        """Record the live status and apply finished results, so the plan is current."""
        batch = await self._client.retrieve(batch_id)
        await self._store.record_statuses([batch.model_dump(mode="json")])
        if is_terminal(batch.status):
            await BatchApplier(self._client, self._store).apply(batch)

    async def _link(
        self,
        plan: RetryPlan,
        new: Batch,
        *,
        source: Source,
        created: bool,
        skipped: tuple[str, ...],
    ) -> RetryResult:
        ids = [a for a in plan.asset_ids if a not in set(skipped)]
        try:
            link = await self._store.begin_retry(plan.old.id, new.model_dump(mode="json"), ids)
        except RetryRefused as refused:
            if refused.retried_by == new.id:
                return RetryResult(
                    plan.old.id, new, len(ids), source, created, skipped, _reasons(plan)
                )
            if created:
                await self._cancel_loser(new, refused.retried_by)
            return await self._existing(plan.old, refused.retried_by)
        if not link.linked and link.existing_retry and link.existing_retry != new.id:
            if created:
                await self._cancel_loser(new, link.existing_retry)
            return await self._existing(plan.old, link.existing_retry)
        log.info("retry of %s -> %s (%d assets)", plan.old.id, new.id, link.moved_assets)
        return RetryResult(
            plan.old.id,
            new,
            link.moved_assets or len(ids),
            source,
            created,
            skipped,
            _reasons(plan),
        )

    async def _existing(self, old: BatchRow, new_id: str) -> RetryResult:
        new = await self._client.retrieve(new_id)
        row = await self._store.get_batch(new_id)
        count = row.asset_count if row is not None else 0
        return RetryResult(old.id, new, count, "existing", False)

    async def _cancel_loser(self, mine: Batch, winner: str) -> None:
        """Another process linked its retry first: withdraw ours so only one runs."""
        log.warning("retry race: %s lost to %s, cancelling %s", mine.id, winner, mine.id)
        try:
            await self._client.cancel(mine.id)
        except BatchApiError as exc:
            log.warning("could not cancel duplicate retry %s: %s", mine.id, exc)

    async def _input_lines(self, plan: RetryPlan) -> tuple[bytes, Source, tuple[str, ...]]:
        """JSONL for the assets to retry: original lines first, rebuilt for the rest.

        One model for the whole file, as the Batch API requires: the model the original
        lines asked for (the first one met, should they differ), else the requested name
        behind the batch's dated snapshot. Lines asking for another model are rebuilt.
        """
        wanted = {asset.id for asset in plan.assets}
        lines: list[bytes] = []
        from_file: set[str] = set()
        model: str | None = None
        input_id = plan.old.input_file_id
        if input_id and await self._client.file_exists(input_id):
            async for raw in self._client.iter_output_lines(input_id):
                custom_id, line_model = _line_ids(raw)
                if custom_id not in wanted or custom_id in from_file:
                    continue
                model = model or line_model
                if line_model == model:
                    from_file.add(custom_id)
                    lines.append(raw.rstrip(b"\r\n") + b"\n")
        rebuilt, skipped = _rebuild(
            [a for a in plan.assets if a.id not in from_file],
            model=model or requested_model(plan.old.model),
            endpoint=plan.old.endpoint or CHAT_COMPLETIONS,
        )
        source: Source
        if from_file and rebuilt:
            source = "mixed"
        elif from_file:
            source = "input_file"
        else:
            source = "rebuilt"
        return b"".join(lines) + rebuilt, source, skipped


def requested_model(batch_model: str | None) -> str:
    """The model name to ask for again: ``batch.model`` is the dated snapshot that ran
    (``gpt-4o-mini-2024-07-18``), not the name the request lines asked for."""
    if not batch_model:
        return DEFAULT_MODEL
    return base_model(batch_model)


def _reasons(plan: RetryPlan) -> dict[str, str]:
    return {asset.id: asset.error or "failed" for asset in plan.left_out}


def _line_ids(raw: bytes) -> tuple[str | None, str | None]:
    """A request line's custom_id and the model its body asks for."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    custom_id = record.get("custom_id")
    body = record.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return (
        custom_id if isinstance(custom_id, str) else None,
        model if isinstance(model, str) and model else None,
    )


def _rebuild(
    assets: Sequence[AssetRow], *, model: str, endpoint: str
) -> tuple[bytes, tuple[str, ...]]:
    requests = []
    skipped = []
    for asset in assets:
        try:
            requests.append(
                build_tag_request(asset.id, asset.image_url or "", model=model, endpoint=endpoint)
            )
        except ValueError as exc:
            log.warning("cannot rebuild request for asset %s: %s", asset.id, exc)
            skipped.append(asset.id)
    return to_jsonl(requests), tuple(skipped)


def _created_after(old: BatchRow) -> int | None:
    return int(old.created_at.timestamp()) if old.created_at is not None else None
