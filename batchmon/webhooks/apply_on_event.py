"""Act on a batch webhook: sync that one batch and apply it through the engine at once.

This is the durable half of replay protection. A batch the store already applied (every
asset final, `applied_at` set) is skipped before any API call, so an event replayed
after a restart, or one the poll beat to it, costs one query and changes nothing. A
batch this database does not track (another app in the same OpenAI project) is ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from batchmon.engine.apply import ApplyReport, BatchApplier
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient
from batchmon.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What one event led to: applied, already_applied, not_tracked, not_found, not_finished."""

    batch_id: str
    action: str
    report: ApplyReport | None = None


class ApplyOnEvent:
    """The `on_batch_event` callable for the webhook endpoint, backed by the engine."""

    def __init__(self, client: BatchClient, store: Store) -> None:
        self._store = store
        self._sync = BatchSync(client, store)
        self._applier = BatchApplier(client, store)

    async def __call__(self, batch_id: str, event_type: str) -> None:
        await self.handle(batch_id, event_type)

    async def handle(self, batch_id: str, event_type: str) -> EventOutcome:
        row = await self._store.get_batch(batch_id)
        if row is None and not await self._store.batch_assets(batch_id, limit=1):
            log.info("%s for %s: not a batch this database tracks", event_type, batch_id)
            return EventOutcome(batch_id, "not_tracked")
        if row is not None and row.applied_at is not None and row.pending_assets == 0:
            return EventOutcome(batch_id, "already_applied")
        result = await self._sync.check([batch_id])
        batch = result.batches.get(batch_id)
        if batch is None:
            log.warning("%s for %s: the API does not know this batch", event_type, batch_id)
            return EventOutcome(batch_id, "not_found")
        report = await self._applier.apply(batch)
        if report.skipped_reason and not report.already_applied:
            # The event ran ahead of the API's view; the poll applies it when it settles.
            log.info("%s for %s: %s", event_type, batch_id, report.skipped_reason)
            return EventOutcome(batch_id, "not_finished", report)
        action = "already_applied" if report.already_applied else "applied"
        log.info("%s via webhook: %s", action, report.summary())
        return EventOutcome(batch_id, action, report)
