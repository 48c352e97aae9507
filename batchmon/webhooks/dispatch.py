"""Run batch-event handling in the background so the endpoint can answer at once.

OpenAI expects a 2xx within seconds and retries otherwise; applying a big batch takes
longer. The endpoint therefore acknowledges after verification and hands the event here.
Tasks are kept referenced until done, events for the same batch run one after another,
and a failure is logged and reported to `on_failure` (the poll picks the batch up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

BatchEventHandler = Callable[[str, str], Awaitable[None]]
"""`on_batch_event(batch_id, event_type)`: act on one batch event."""

FailureHook = Callable[[str, BaseException], None]
"""Called with the webhook id and the error when handling failed."""


class EventDispatcher:
    """Schedules `handler` per event; `drain()` waits until nothing is in flight."""

    def __init__(self, handler: BatchEventHandler, *, on_failure: FailureHook | None = None):
        self._handler = handler
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.handled = 0
        self.failed = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, webhook_id: str, batch_id: str, event_type: str) -> asyncio.Task[None]:
        """Start handling one event; returns at once."""
        task = asyncio.create_task(
            self._run(webhook_id, batch_id, event_type), name=f"webhook:{batch_id}"
        )
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def _run(self, webhook_id: str, batch_id: str, event_type: str) -> None:
        lock = self._locks.setdefault(batch_id, asyncio.Lock())
        try:
            async with lock:
                await self._handler(batch_id, event_type)
            self.handled += 1
        except Exception as exc:
            self.failed += 1
            log.error(
                "handling %s for %s failed (the poll will pick it up): %s: %s",
                event_type,
                batch_id,
                type(exc).__name__,
                exc,
            )
            if self._on_failure is not None:
                self._on_failure(webhook_id, exc)
        finally:
            if not lock.locked() and self._locks.get(batch_id) is lock:
                del self._locks[batch_id]

    async def drain(self) -> None:
        """Wait until every submitted event has been handled (or has failed)."""
        await self._idle.wait()

    async def aclose(self, grace: float = 30.0) -> None:
        """Let in-flight events finish for up to `grace` seconds, then cancel them."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
