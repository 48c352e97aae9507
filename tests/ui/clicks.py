"""Waiting for the desktop and answering its questions the way a person does.

Waits are futures on Qt signals, connected at once (so an emission during the very
click that causes it is not missed), bounded, and never sleeps. The dialogs are the
real ones from ``batchmon.ui.dialogs`` (opened with ``open()``, never a nested loop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from batchmon.ui import dialogs

TIMEOUT = 20.0


class NextEmit:
    """The arguments of the next emission of ``signal`` that ``accept`` takes.

    Create it before the action that emits; ``await`` it afterwards.
    """

    def __init__(
        self,
        signal: SignalInstance,
        accept: Callable[..., bool] = lambda *a: True,
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        self._signal = signal
        self._accept = accept
        self._timeout = timeout
        self._future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        signal.connect(self._on_signal)

    def _on_signal(self, *args: Any) -> None:
        if not self._future.done() and self._accept(*args):
            self._future.set_result(args[0] if len(args) == 1 else args)

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        try:
            return await asyncio.wait_for(self._future, self._timeout)
        finally:
            with contextlib.suppress(RuntimeError):  # the sender may be deleted by now
                self._signal.disconnect(self._on_signal)


def next_emit(
    signal: SignalInstance,
    accept: Callable[..., bool] = lambda *a: True,
    *,
    timeout: float = TIMEOUT,
) -> NextEmit:
    return NextEmit(signal, accept, timeout=timeout)


async def until(
    signal: SignalInstance, condition: Callable[[], bool], *, within: float = TIMEOUT
) -> None:
    """Wait until ``condition`` holds, re-checking it on each emission of ``signal``."""
    async with asyncio.timeout(within):
        while not condition():
            await NextEmit(signal, timeout=within)


def next_dialog() -> NextEmit:
    """The next dialog opened through ``batchmon.ui.dialogs``."""
    return NextEmit(dialogs.events().opened)


async def question(opened: NextEmit) -> QMessageBox:
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
