"""Awaiting Qt signals on the running (qasync) loop, with a bound on every wait.

Async tests never call ``qtbot.waitSignal``: it spins a nested event loop inside the
loop that runs the test. These helpers resolve a future from a slot instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QObject

TIMEOUT = 20.0
"""Seconds before a wait fails the test: generous, a wait that holds ends at once."""


def _always(*_: Any) -> bool:
    return True


def next_emit(
    signal: Any, accept: Callable[..., bool] = _always, *, within: float = TIMEOUT
) -> Awaitable[tuple[Any, ...]]:
    """The arguments of the next emission of ``signal`` that ``accept`` takes.

    Connects at the call, so arm it before the action that emits and await it after.
    Disconnects through the connection handle: PySide6's ``signal.disconnect(slot)``
    (and single-shot connections) can corrupt a refcount and crash later.
    """
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not future.done() and accept(*args):
            future.set_result(args)

    connection = signal.connect(slot)
    future.add_done_callback(lambda _: QObject.disconnect(connection))
    return asyncio.wait_for(future, within)


async def until(signal: Any, condition: Callable[[], bool], *, within: float = TIMEOUT) -> None:
    """Return once ``condition`` holds, re-checking it after each emission of ``signal``."""
    async with asyncio.timeout(within):
        while not condition():
            await next_emit(signal, within=within)
