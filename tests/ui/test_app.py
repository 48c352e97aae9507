"""Nothing fails unseen: slot and task exceptions reach the person and the log."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.ui.app import Desktop, ErrorReporter, install_error_reporting


@pytest.mark.qt_no_exception_capture
async def test_exceptions_in_slots_and_tasks_are_shown(qtbot: QtBot) -> None:
    desktop = Desktop(Settings(), native_notifications=False)
    qtbot.addWidget(desktop.window)
    reporter = ErrorReporter()
    reporter.window = desktop.window
    loop = asyncio.get_running_loop()
    previous_hook, previous_handler = sys.excepthook, loop.get_exception_handler()
    install_error_reporting(reporter, loop)
    try:
        button = QPushButton("boom")
        qtbot.addWidget(button)

        def broken_slot() -> None:
            raise ValueError("the slot broke")

        button.clicked.connect(broken_slot)
        button.click()
        banner = desktop.window.banner
        assert reporter.count == 1
        assert not banner.isHidden() and banner.level == "error"
        assert "the slot broke" in banner.text

        reported: asyncio.Future[str] = loop.create_future()
        reporter.reported.connect(lambda text: reported.done() or reported.set_result(text))

        def broken_callback() -> None:
            raise RuntimeError("the task broke")

        loop.call_soon(broken_callback)
        text = await asyncio.wait_for(reported, 5)
        assert "the task broke" in text and "the task broke" in banner.text
    finally:
        sys.excepthook = previous_hook
        loop.set_exception_handler(previous_handler)
        await desktop.aclose()
