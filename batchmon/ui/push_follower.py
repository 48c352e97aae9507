"""What the desktop does with push: follow the store's change feed, never miss a change.

Push drops silently (a killed ``LISTEN`` connection, a closed Realtime socket) and never
replays what was sent meanwhile. So the follower reconnects with backoff, and on every
``resync`` (sent after each (re)subscribe) refetches every row and observes each one:
a batch that finished while nobody listened is still announced, once. A change to a
single batch fetches that row; anything still pending wakes the poller.

Push can also drop without any disconnect: Supabase Realtime stops delivering to every
subscriber of a project for 10-60 s while the project is past its events per second.
So :meth:`PushFollower.watch_for_gaps` asks the store once per poll interval when the
batches last changed (one cheap call); a change newer than every row the desktop holds,
still missing a moment later, means push dropped it, and everything is listed again.
While work is pending it also lists everything every ``RESYNC_EVERY_POLLS`` intervals
anyway: asset changes between two batch changes leave no trace in that one timestamp.

It imports no Qt: the notices, the poller and the status bar are reached through the
small protocols below, so the push-loss tests drive this very code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from batchmon.core.backoff import Backoff
from batchmon.core.status import is_pending
from batchmon.store import BatchRow, Change, Store
from batchmon.ui.batch_list import BatchList, batch_from_row

log = logging.getLogger(__name__)

RESYNC_GAP = "gap"  # the store changed and push did not say so
RESYNC_PERIODIC = "periodic"  # work is pending: listed again every few poll intervals
#: While work is pending, every this many poll intervals everything is listed again.
RESYNC_EVERY_POLLS = 30
#: How long a change may still be on its way by push before it counts as dropped.
PUSH_GRACE = 0.5


class Notices(Protocol):
    """The part of ``NotificationCenter`` push uses (one notice per transition)."""

    def observe(self, batch_id: str, status: str, batch: Any | None = None) -> Any | None: ...

    def handle_change(self, change: Change, batch: Any | None = None) -> Any | None: ...


class Wakeable(Protocol):
    """The part of ``Poller`` push uses: something may be pending again."""

    def resume(self) -> None: ...


class PushStatus(Protocol):
    """Where the feed's state is shown (the status bar)."""

    def set_push(self, state: Any, detail: str = "", retry_in: float | None = None) -> None: ...

    def showMessage(self, text: str, timeout: int = 0) -> None: ...


#: Called after each handled change with the ids of the batches it announced.
Handled = Callable[[Change, frozenset[str]], None]


class PushFollower:
    """Follows one store's change feed into a :class:`BatchList` and the notices."""

    def __init__(
        self,
        store: Store,
        batches: BatchList,
        notices: Notices,
        poller: Wakeable,
        status: PushStatus,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.batches = batches
        self.notices = notices
        self.poller = poller
        self.status = status
        self._sleep = sleep
        self._handled: list[Handled] = []
        self._lock = asyncio.Lock()  # one change (or resync) handled at a time
        self._synced = False  # a resync has loaded every row
        self._known: datetime | None = None  # the newest change among the rows held

    def on_handled(self, callback: Handled) -> None:
        """Also tell ``callback`` about each change once it has been handled."""
        self._handled.append(callback)

    async def follow(self) -> None:
        """Read the feed until cancelled; reconnect with backoff whenever it fails or ends."""
        backoff = Backoff()
        while True:
            try:
                async for change in self.store.changes():
                    backoff = backoff.reset()
                    await self.on_change(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("push feed failed: %s; reconnecting", exc)
            self.status.set_push(
                "reconnecting", f"next try in {backoff.delay:g} s", retry_in=backoff.delay
            )
            await self._sleep(backoff.delay)
            backoff = backoff.next()

    async def on_change(self, change: Change) -> frozenset[str]:
        """Handle one change; returns the ids of the batches it announced."""
        async with self._lock:
            if change.kind == "resync":
                announced = await self._resync(change)
            else:
                announced = await self._batch_changed(change)
        for callback in self._handled:
            callback(change, announced)
        return announced

    async def watch_for_gaps(
        self, interval: Callable[[], float], pending: Callable[[], bool]
    ) -> None:
        """Find changes push dropped, once per poll interval ``interval()``, until cancelled.

        ``pending()`` says whether work is pending (the poller is polling).
        """
        ticks = 0
        while True:
            await self._sleep(interval())
            if not self._synced:
                continue  # the feed's first resync has not loaded the rows yet
            ticks += 1
            try:
                if pending() and ticks >= RESYNC_EVERY_POLLS:
                    reason = RESYNC_PERIODIC
                elif await self._missed_change(min(PUSH_GRACE, interval() / 2)):
                    reason = RESYNC_GAP
                else:
                    continue
                log.info("listing every batch again: %s", reason)
                ticks = 0
                await self.on_change(Change("resync", payload={"reason": reason}))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not check for changes push missed: %s", exc)

    async def _missed_change(self, grace: float) -> bool:
        latest = await self.store.last_batch_change()
        if not self._behind(latest):
            return False
        await self._sleep(grace)  # it may still be on its way by push
        return self._behind(latest)

    def _behind(self, latest: datetime | None) -> bool:
        return latest is not None and (self._known is None or latest > self._known)

    def _saw(self, rows: Iterable[BatchRow]) -> None:
        for row in rows:
            if row.updated_at is not None and (self._known is None or row.updated_at > self._known):
                self._known = row.updated_at

    async def _resync(self, change: Change) -> frozenset[str]:
        if change.payload.get("reason") not in (RESYNC_GAP, RESYNC_PERIODIC):
            # The feed says once when push cannot work (a table missing from the
            # publication); polling carries on, and the person is told what to run.
            unavailable = str(change.payload.get("push_unavailable") or "")
            self.status.set_push("off" if unavailable else "connected", unavailable)
            if unavailable:
                self.status.showMessage(unavailable)
        rows = await self.store.list_batches()
        self.batches.load_rows(rows)
        self._synced = True
        self._saw(rows)
        # What changed while push was down arrives only as this snapshot: observe every
        # row so a batch that finished meanwhile is still announced (already seen
        # (batch, status) pairs stay quiet; before the first sync none notify).
        announced = _announced(
            (row.id, self.notices.observe(row.id, row.status, batch_from_row(row))) for row in rows
        )
        if any(is_pending(row.status) for row in rows):
            self.poller.resume()
        return announced

    async def _batch_changed(self, change: Change) -> frozenset[str]:
        if not change.batch_id:
            return frozenset()
        row = await self.store.get_batch(change.batch_id)
        if row is None:
            return frozenset()
        self.batches.upsert_rows([row])
        self._saw([row])
        announced: frozenset[str] = frozenset()
        if change.kind == "batch":
            notice = self.notices.handle_change(change, batch_from_row(row))
            announced = _announced([(row.id, notice)])
        if is_pending(row.status):
            self.poller.resume()
        return announced


def _announced(pairs: Iterable[tuple[str, Any | None]]) -> frozenset[str]:
    return frozenset(batch_id for batch_id, notice in pairs if notice is not None)
