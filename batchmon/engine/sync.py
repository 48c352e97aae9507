"""One status pass over the batches that matter, recorded and turned into events.

Status checks cost list pages (up to 100 batches per request), never one request per
batch; the pass records every status it saw, so the store, the desktop and the worker
share one view, and it diffs against the previous pass so each transition is news once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from openai.types import Batch

from batchmon.core.diff import BatchEvent, diff
from batchmon.core.status import is_terminal
from batchmon.openai_batches import BatchClient
from batchmon.store import PermissionDenied, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one pass saw: the transitions, the live batches and what it cost."""

    events: list[BatchEvent]
    batches: dict[str, Batch]
    requests: int
    missing: frozenset[str] = field(default_factory=frozenset)


class BatchSync:
    """Keeps the last snapshot of every batch it has seen, so passes yield only news.

    The first sight of a batch is a baseline (no events): starting up must not announce
    every batch that finished while nobody was looking.
    """

    def __init__(self, client: BatchClient, store: Store, *, reuse_listed: bool = False) -> None:
        self._client = client
        self._store = store
        self._reuse_listed = reuse_listed
        self._snapshot: dict[str, Batch] = {}
        self._seeded = False
        self._not_ours: set[str] = set()
        self._listed: dict[str, Batch] = {}
        self._gone: set[str] = set()

    @property
    def snapshot(self) -> dict[str, Batch]:
        """The latest observation of each batch (read-only use)."""
        return self._snapshot

    async def ids_that_matter(self, extra_ids: Iterable[str] = ()) -> list[str]:
        """Batches with pending assets, plus the caller's, plus unfinished recorded ones.

        A batch the API answered 404 for is not asked about again by this sync (its
        assets wait for a retry); the caller can still name it in ``extra_ids``.
        """
        ids: dict[str, None] = {}
        for pending in await self._store.pending_batches():
            if pending.batch_id not in self._gone:
                ids[pending.batch_id] = None
        for batch_id in extra_ids:
            ids[batch_id] = None
        if not self._seeded:
            # First pass: also pick up recorded batches that are still running but have
            # no pending assets (e.g. created elsewhere); later passes follow the snapshot.
            for row in await self._store.list_batches():
                if not is_terminal(row.status):
                    ids[row.id] = None
            self._seeded = True
        for batch_id, batch in self._snapshot.items():
            if not is_terminal(batch.status):
                ids[batch_id] = None
        return list(ids)

    async def run(self, extra_ids: Iterable[str] = ()) -> SyncResult:
        """Check every batch that matters (see :meth:`ids_that_matter`)."""
        return await self.check(await self.ids_that_matter(extra_ids))

    def _is_stale(self, batch_id: str, batch: Batch) -> bool:
        """A finished batch never changes status again: a read saying so is stale.

        List pages can lag a retrieve by a moment; keeping the finished snapshot stops a
        late ``in_progress`` from being recorded and the finish from being reported twice.
        """
        known = self._snapshot.get(batch_id)
        return known is not None and is_terminal(known.status) and batch.status != known.status

    async def _record(self, batches: dict[str, Batch]) -> None:
        """Record statuses in one call; skip rows row-level security will not let us write.

        A batch can hold assets of several users while its row belongs to one of them;
        the others still watch it through their own assets. One such row must not make
        every pass fail for them, so after a refusal each row is recorded on its own and
        refused ones are not offered again (they are still diffed and reported).
        """
        mine = [b.model_dump(mode="json") for i, b in batches.items() if i not in self._not_ours]
        if not mine:
            return
        try:
            await self._store.record_statuses(mine)
        except PermissionDenied:
            for raw in mine:
                try:
                    await self._store.record_statuses([raw])
                except PermissionDenied:
                    self._not_ours.add(raw["id"])
                    log.info("batch %s belongs to another user: not recording it", raw["id"])

    def start_pass(self) -> None:
        """Forget what earlier list pages showed (``reuse_listed``): a new pass asks again.

        A worker claims a pass in parts, oldest first, a few dozen at a time; the list
        pages read for the first part already showed the next ones, so within one pass
        those cost no second scan.
        """
        self._listed.clear()

    async def check(self, batch_ids: Iterable[str]) -> SyncResult:
        """Check exactly ``batch_ids``: fetch, record, diff."""
        ids = list(dict.fromkeys(batch_ids))
        if not ids:
            return SyncResult(events=[], batches={}, requests=0)
        seen = {i: self._listed[i] for i in ids if i in self._listed}
        report = await self._client.statuses([i for i in ids if i not in seen])
        if self._reuse_listed:
            self._listed.update(report.listed)
        fetched = {i: seen.get(i) or report.batches.get(i) for i in ids}
        batches = {
            batch_id: batch
            for batch_id, batch in fetched.items()
            if batch is not None and not self._is_stale(batch_id, batch)
        }
        if batches:
            await self._record(batches)
        events: list[BatchEvent] = []
        for batch_id, batch in batches.items():
            events.extend(diff(self._snapshot.get(batch_id), batch))
            self._snapshot[batch_id] = batch
        self._gone.update(report.missing)
        if report.missing:
            log.warning(
                "%d batch(es) not found by the API: %s",
                len(report.missing),
                ", ".join(sorted(report.missing)[:5]),
            )
        return SyncResult(
            events=events,
            batches=batches,
            requests=report.requests,
            missing=frozenset(report.missing),
        )
