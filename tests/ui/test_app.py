"""Nothing fails unseen: slot and task exceptions reach the person and the log."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from batchmon import __version__
from batchmon.config import Settings
from batchmon.ui.app import configure_application
from batchmon.ui.desktop import Desktop
from batchmon.ui.error_reporter import ErrorReporter, install_error_reporting
from tests.helpers.qt import next_emit


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

        reported = next_emit(reporter.reported)

        def broken_callback() -> None:
            raise RuntimeError("the task broke")

        loop.call_soon(broken_callback)
        (text,) = await reported
        assert "the task broke" in text and "the task broke" in banner.text
    finally:
        sys.excepthook = previous_hook
        loop.set_exception_handler(previous_handler)
        await desktop.aclose()


def test_application_identity_matches_the_desktop_entry(qapp: QApplication) -> None:
    """Wayland and notification servers match the window to io.github.batchmon.Batchmon."""
    before = qapp.quitOnLastWindowClosed()
    try:
        configure_application(qapp)
        assert qapp.desktopFileName() == "io.github.batchmon.Batchmon"
        assert (Path("packaging/linux") / f"{qapp.desktopFileName()}.desktop").is_file()
        assert qapp.applicationName() == "batchmon"
        assert qapp.applicationVersion() == __version__
        assert not qapp.windowIcon().isNull()
        # Closing the window asks for an orderly shutdown instead of ending the loop.
        assert not qapp.quitOnLastWindowClosed()
    finally:
        qapp.setQuitOnLastWindowClosed(before)


async def test_the_demo_clock_drives_time_in_state(qtbot: QtBot) -> None:
    desktop = Desktop(Settings(), demo=True, native_notifications=False)
    qtbot.addWidget(desktop.window)
    try:
        desktop.use_clock(lambda: 1_000_000.0)
        assert desktop.model._now() == 1_000_000.0
    finally:
        await desktop.aclose()
