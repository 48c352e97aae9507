"""Dialogs that never start a nested event loop: open them, then await their answer.

``QDialog.exec()`` and the static ``QMessageBox`` helpers (``question``, ``critical``...)
run a second Qt event loop. Under qasync that loop re-enters the asyncio loop from inside
the running task ("Cannot enter into task ... while another task ... is being
executed"), and from then on the app's tasks stop. Here every dialog opens with
``open()`` (window-modal, returns at once) and a future resolved by ``finished`` carries
its answer back to the coroutine that asked. This is the one module under
``batchmon/ui`` that may build message boxes; ``tests/architecture`` keeps it so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QMessageBox, QWidget

_open: list[QDialog] = []


class DialogEvents(QObject):
    """Announces each dialog as it opens: screenshots and tests find it through this."""

    opened = Signal(QDialog)


_events: DialogEvents | None = None


def events() -> DialogEvents:
    global _events
    if _events is None:
        _events = DialogEvents()
    return _events


def open_dialogs() -> list[QDialog]:
    """The dialogs opened here that are still waiting for an answer, oldest first."""
    return list(_open)


async def run_dialog(dialog: QDialog) -> int:
    """Open ``dialog`` window-modally and wait for it to finish; returns its result code.

    Should the waiting task be cancelled (the app is quitting), the dialog is rejected
    and closed, so no window outlives the question it asked.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int] = loop.create_future()

    def finished(result: int) -> None:
        if not answer.done():
            answer.set_result(result)

    dialog.finished.connect(finished)
    _open.append(dialog)
    try:
        dialog.open()
        events().opened.emit(dialog)
        return await answer
    finally:
        _open.remove(dialog)
        with contextlib.suppress(RuntimeError):  # already deleted with its parent
            dialog.finished.disconnect(finished)
            if dialog.isVisible():
                dialog.reject()
            _give_back_focus(dialog)


def _give_back_focus(dialog: QDialog) -> None:
    """Reactivate the window the dialog sat on, so its shortcuts work again at once.

    A window manager usually does this; without one (or offscreen) nothing would be
    active after the dialog, and Ctrl+Q or F5 would do nothing until a click.
    """
    parent = dialog.parentWidget()
    if parent is not None and parent.window().isVisible():
        parent.window().activateWindow()


def _message_box(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str
) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def _question_box(parent: QWidget | None, title: str, question: str) -> QMessageBox:
    box = _message_box(parent, QMessageBox.Icon.Question, title, question)
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    box.setEscapeButton(QMessageBox.StandardButton.No)
    return box


async def _answer(box: QMessageBox) -> bool:
    """Run the question; True only when Yes was clicked (or Enter pressed)."""
    clicked: list[QMessageBox.StandardButton] = []
    box.buttonClicked.connect(lambda button: clicked.append(box.standardButton(button)))
    try:
        await run_dialog(box)
    finally:
        box.deleteLater()
    return clicked[:1] == [QMessageBox.StandardButton.Yes]


async def ask(parent: QWidget | None, title: str, question: str) -> bool:
    """A Yes/No question; True only for Yes. Yes is the default (Enter), Esc means No."""
    return await _answer(_question_box(parent, title, question))


async def ask_with_option(
    parent: QWidget | None,
    title: str,
    question: Callable[[bool], str],
    option: str,
    *,
    needed: bool = False,
) -> tuple[bool, bool]:
    """A Yes/No question with one checkbox, off at first: ``(yes, checked)``.

    The text is ``question(checked)`` and follows the checkbox, so it always says what
    Yes will do; with ``needed`` Yes stays disabled until the box is checked (without
    it there would be nothing to do).
    """
    box = _question_box(parent, title, question(False))
    check = QCheckBox(option)
    box.setCheckBox(check)
    yes = box.button(QMessageBox.StandardButton.Yes)
    yes.setEnabled(not needed)

    def toggled(on: bool) -> None:
        box.setText(question(on))
        if needed:
            yes.setEnabled(on)

    check.toggled.connect(toggled)
    checked: list[bool] = []
    box.finished.connect(lambda _: checked.append(check.isChecked()))
    yes_clicked = await _answer(box)
    return yes_clicked, bool(checked and checked[0])


async def tell(parent: QWidget | None, title: str, text: str, *, error: bool = True) -> None:
    """A message with one OK button, for when there is no window to show it in."""
    icon = QMessageBox.Icon.Critical if error else QMessageBox.Icon.Information
    box = _message_box(parent, icon, title, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    try:
        await run_dialog(box)
    finally:
        box.deleteLater()


def show_message(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """Show an error message without waiting for it (callers that are not coroutines)."""
    box = _message_box(parent, QMessageBox.Icon.Critical, title, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.show()
    return box
