"""Where unexpected exceptions go: nothing a slot or a task raises fails unseen.

qasync hands an exception raised in a slot to ``sys.excepthook`` and one raised in a
task to the loop's exception handler; both end here, in the log and in the window's
banner (before the window exists, in a message box that does not block the loop).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from batchmon.ui import dialogs

if TYPE_CHECKING:
    from batchmon.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class ErrorReporter(QObject):
    """Where unexpected exceptions go: the log, and the window's banner (or a dialog)."""

    reported = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.window: MainWindow | None = None
        self.count = 0

    def report(self, what: str, exc: BaseException) -> None:
        self.count += 1
        if self.window is not None:
            self.window.show_error(what, exc)
        else:
            log.error("%s", what, exc_info=(type(exc), exc, exc.__traceback__))
            dialogs.show_message(None, "batchmon", f"{what}: {exc}")
        self.reported.emit(f"{what}: {exc}")

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.report("Unexpected error", exc.with_traceback(tb))

    def loop_exception_handler(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        exc = context.get("exception")
        if exc is None:
            log.error("event loop: %s", context.get("message"))
            return
        self.report(str(context.get("message") or "Background task failed"), exc)


def install_error_reporting(
    reporter: ErrorReporter, loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Route slot exceptions (sys.excepthook) and task exceptions to ``reporter``."""
    sys.excepthook = reporter.excepthook
    (loop or asyncio.get_event_loop()).set_exception_handler(reporter.loop_exception_handler)
