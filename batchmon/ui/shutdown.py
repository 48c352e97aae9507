"""One way out: every request to stop ends in the same orderly shutdown.

SIGTERM (a logout, ``systemctl stop``, ``kill``), Ctrl+C, the tray's Quit, closing the
window and ``QApplication.quit()`` must all stop the poller, the push feed, the worker,
the simulator and the embedded PostgreSQL before the process ends. With qasync,
``QApplication.quit()`` stops the Qt loop at once, abandoning the coroutines that would
clean up; so the desktop never quits that way itself: it sets a :class:`QuitRequest`,
awaits its own cleanup, and only then lets the loop end (:func:`run_until_shutdown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

#: Signals that mean "stop now, cleanly". SIGHUP: the terminal went away.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)


class QuitRequest:
    """Set once by whoever wants the desktop to stop; the composition root awaits it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason: str | None = None
        self._signals: list[signal.Signals] = []

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str = "quit") -> None:
        """Ask for a shutdown; the first reason given is the one remembered."""
        if self.reason is None:
            self.reason = reason
            log.info("shutting down (%s)", reason)
        self._event.set()

    async def wait(self) -> str:
        await self._event.wait()
        return self.reason or "quit"

    def install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Turn SIGTERM, SIGINT and SIGHUP into a quit request (where the OS allows).

        The loop's own signal handling wakes it through a file descriptor, so a signal
        is seen at once even while Qt sleeps in its event loop, and idle costs nothing.
        """
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, self.request, sig.name)
            except (NotImplementedError, RuntimeError, ValueError):
                # Windows, or not the main thread: fall back to a plain handler.
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(
                        sig,
                        lambda num, _frame: loop.call_soon_threadsafe(
                            self.request, signal.Signals(num).name
                        ),
                    )
                continue
            self._signals.append(sig)

    def remove_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in self._signals:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        self._signals.clear()


def run_until_shutdown(
    loop: asyncio.AbstractEventLoop,
    main: Coroutine[Any, Any, int],
    quit_request: QuitRequest,
) -> int:
    """Run ``main`` to its end on the qasync ``loop``, then close the loop tidily.

    Should something stop the Qt loop early (``QApplication.quit()``, a session
    manager), the quit request is set and the loop runs again until ``main`` has
    finished its cleanup. Leftover tasks are cancelled and awaited before the loop
    closes, so no coroutine is collected half-run when the interpreter exits.
    """
    task = loop.create_task(main)
    try:
        for _ in range(3):
            try:
                return loop.run_until_complete(task)
            except RuntimeError as exc:
                if task.done() or "stopped before Future completed" not in str(exc):
                    raise
                quit_request.request("the application was asked to quit")
        raise RuntimeError("the desktop did not shut down")
    finally:
        _cancel_leftovers(loop)
        quit_request.remove_signal_handlers(loop)
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning("a background task failed while stopping", exc_info=task.exception())
