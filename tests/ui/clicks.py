"""What a person does to a question: wait for the dialog, then click or press a key.

The dialog is the real one from ``batchmon.ui.dialogs`` (opened with ``open()``, never a
nested loop); waits are futures on its ``opened`` signal, never sleeps.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from batchmon.ui import dialogs

TIMEOUT = 20.0


class NextDialog:
    """Set up before the click that opens a dialog; ``await`` it for that dialog."""

    def __init__(self) -> None:
        self._future: asyncio.Future[QDialog] = asyncio.get_running_loop().create_future()
        dialogs.events().opened.connect(self._opened)

    def _opened(self, dialog: QDialog) -> None:
        if not self._future.done():
            self._future.set_result(dialog)

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._wait().__await__()

    async def _wait(self) -> QDialog:
        try:
            return await asyncio.wait_for(self._future, TIMEOUT)
        finally:
            dialogs.events().opened.disconnect(self._opened)


async def question(next_dialog: NextDialog) -> QMessageBox:
    """The question the app asked: a window-modal message box, with Yes as default."""
    box = await next_dialog
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert QApplication.activeModalWidget() is box
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Yes)
    return box


def click(qtbot: QtBot, box: QMessageBox, button: QMessageBox.StandardButton) -> None:
    """Click ``button`` with the mouse, as a person would."""
    qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)


def press(qtbot: QtBot, box: QMessageBox, key: Qt.Key) -> None:
    """Press ``key`` (Enter accepts, Escape rejects) in the dialog."""
    qtbot.keyClick(box, key)
