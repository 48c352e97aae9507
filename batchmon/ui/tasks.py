"""One place that keeps background tasks alive until they end, and ends them on quit.

asyncio holds only weak references to tasks: a task nobody keeps can be collected
half-run. Every part of the desktop that starts work in the background (the app, the
window, the notifier, the poller) keeps it in a :class:`TaskSet`, so shutdown can cancel
and await all of it in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TaskSet:
    """Tasks started by one owner; each leaves the set when it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(
        self,
        work: Awaitable[T],
        on_done: Callable[[asyncio.Future[T]], object] | None = None,
    ) -> asyncio.Future[T]:
        """Run ``work`` on the loop and keep it until it ends; ``on_done`` sees how."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if on_done is not None:
            task.add_done_callback(on_done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def cancel(self) -> None:
        """Ask every task to stop (without waiting: for Qt's synchronous handlers)."""
        for task in list(self._tasks):
            task.cancel()

    async def join(self) -> None:
        """Wait until every task, including ones started meanwhile, has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel every task and wait until all have ended; their errors are theirs."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
