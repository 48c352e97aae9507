"""Awaiting Qt signals on the running (qasync) loop, and answering the app's dialogs.

Async tests never call ``qtbot.waitSignal``: it spins a nested event loop inside the
loop that runs the test. These helpers resolve a future from a slot instead, connected
at the call (so an emission during the very click that causes it is not missed), bounded,
and never sleeping. The dialogs are the real ones from ``batchmon.ui.dialogs`` (opened
with ``open()``, never a nested loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from batchmon.ui import dialogs

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


async def until(
    signal: Any, condition: Callable[[], bool], *, within: float = TIMEOUT, also: Sequence[Any] = ()
) -> None:
    """Return once ``condition`` holds, re-checking it after each emission of ``signal``.

    ``also`` names more signals that may make it hold; the first to emit re-checks it.
    """
    async with asyncio.timeout(within):
        while not condition():
            waits = [asyncio.ensure_future(next_emit(s, within=within)) for s in (signal, *also)]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()  # its future's done callback disconnects the slot
                await asyncio.gather(*waits, return_exceptions=True)


def next_dialog(*, within: float = TIMEOUT) -> Awaitable[QDialog]:
    """The next dialog opened through ``batchmon.ui.dialogs``; armed at the call."""
    opened = next_emit(dialogs.events().opened, within=within)

    async def dialog() -> QDialog:
        (box,) = await opened
        assert isinstance(box, QDialog)
        return box

    return dialog()


async def question(opened: Awaitable[QDialog]) -> QMessageBox:
    """The question the app asked: a window-modal message box, with Yes as default."""
    box = await opened
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert QApplication.activeModalWidget() is box
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Yes)
    return box


def click(qtbot: QtBot, box: QMessageBox, button: QMessageBox.StandardButton) -> None:
    """Click ``button`` with the mouse, as a person would."""
    qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)


def press(qtbot: QtBot, box: QDialog, key: Qt.Key) -> None:
    """Press ``key`` (Enter accepts, Escape rejects) in the dialog."""
    qtbot.keyClick(box, key)
