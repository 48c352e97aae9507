"""Every way of asking the desktop to stop ends in one orderly shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.ui import dialogs
from batchmon.ui.actions import CANCELLABLE_STATUSES
from batchmon.ui.app import parse_args, serve
from batchmon.ui.desktop import Desktop
from batchmon.ui.shutdown import QuitRequest
from tests.fixtures.postgres import scratch_server_dir
from tests.helpers.qt import next_dialog, next_emit, question, until
from tests.ui.processes import alive, assert_all_end, server_processes


async def test_ctrl_c_becomes_a_quit_request_on_the_qt_loop() -> None:
    """SIGINT wakes the idle Qt loop at once and is remembered as the reason."""
    loop = asyncio.get_running_loop()
    request = QuitRequest()
    request.install_signal_handlers(loop)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert await asyncio.wait_for(request.wait(), 5) == "SIGINT"
    finally:
        request.remove_signal_handlers(loop)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


async def test_the_first_reason_wins() -> None:
    request = QuitRequest()
    assert not request.requested
    request.request("window closed")
    request.request("SIGTERM")
    assert request.requested
    assert await request.wait() == "window closed"


# -- every way out of a running demo, in process -------------------------------------------
#
# ``serve`` is what ``batchmon --demo`` runs once the loop is up. Each test starts it with
# the demo (embedded PostgreSQL, simulator on loopback, worker), waits until batches
# are on screen, quits the way a person would, and then requires that ``serve`` returned
# within QUIT_SECONDS and that the demo's PostgreSQL processes and any child process
# of this one are gone.

QUIT_SECONDS = 5.0
START_SECONDS = 90.0  # a cold initdb on a busy machine


@pytest.fixture(scope="module")
def demo_home() -> Iterator[Path]:
    """One data dir for the module: the first run creates the demo's database."""
    with scratch_server_dir() as path:
        yield path


@dataclass
class Served:
    desktop: Desktop
    quit_request: QuitRequest
    task: asyncio.Future[int]
    postgres: list[psutil.Process]
    children_before: set[int]


@asynccontextmanager
async def served_demo(home: Path, qtbot: QtBot) -> AsyncIterator[Served]:
    """The demo, served as the app serves it; the body quits it some way."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # as configure_application() sets it
    try:
        async with _served_demo(home, qtbot) as served:
            yield served
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)


@asynccontextmanager
async def _served_demo(home: Path, qtbot: QtBot) -> AsyncIterator[Served]:
    desktop = Desktop(Settings(data_dir=str(home)), demo=True, native_notifications=False)
    quit_request = QuitRequest()  # serve() deletes the window once stopped
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    attached = next_emit(desktop.attached, within=START_SECONDS)
    task = asyncio.ensure_future(
        serve(desktop, parse_args(["--demo", "--demo-day-seconds", "600"]), quit_request)
    )
    await attached
    await until(desktop.synced, lambda: len(desktop.batches) >= 5, within=START_SECONDS)
    postgres = server_processes(home / "demo" / "postgres" / "pgdata")
    assert alive(postgres)
    served = Served(desktop, quit_request, task, postgres, children_before)
    try:
        yield served
        quit_asked = time.monotonic()
        assert await asyncio.wait_for(task, QUIT_SECONDS) == 0
        left = QUIT_SECONDS - (time.monotonic() - quit_asked)
        assert_all_end(postgres, left, "the demo's PostgreSQL outlived the quit")
        children = psutil.Process().children(recursive=True)
        assert_all_end(
            [p for p in children if p.pid not in children_before], 1.0, "child processes"
        )
    finally:
        if not task.done():
            quit_request.request("test cleanup")
            await asyncio.gather(task, return_exceptions=True)


async def test_the_close_button_quits_and_stops_the_database(demo_home: Path, qtbot: QtBot) -> None:
    async with served_demo(demo_home, qtbot) as run:
        run.desktop.window.close()  # what the title bar's close button (Alt+F4) does
    assert run.quit_request.reason == "window closed"


async def test_ctrl_q_quits(demo_home: Path, qtbot: QtBot) -> None:
    async with served_demo(demo_home, qtbot) as run:
        qtbot.keyClick(run.desktop.window.table, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert run.quit_request.reason == "Quit chosen"


async def test_tray_quit_with_a_confirmation_open(demo_home: Path, qtbot: QtBot) -> None:
    """The question is closed unanswered; nothing is cancelled on the way out."""
    async with served_demo(demo_home, qtbot) as run:
        window = run.desktop.window
        batches = run.desktop.batches
        await until(
            run.desktop.synced, lambda: any(i.status in CANCELLABLE_STATUSES for i in batches)
        )
        running = next(item for item in batches if item.status in CANCELLABLE_STATUSES)
        opened = next_dialog()
        window.request_cancel(running.id)
        box = await question(opened)
        run.desktop.tray.quit_action.trigger()
    assert run.quit_request.reason == "Quit chosen"
    assert box not in dialogs.open_dialogs()
    assert not shiboken6.isValid(box) or not box.isVisible()


async def test_quit_after_the_settings_dialog_was_answered(demo_home: Path, qtbot: QtBot) -> None:
    async with served_demo(demo_home, qtbot) as run:
        window = run.desktop.window
        opened = next_dialog()
        window.settings_action.trigger()
        dialog = await opened
        closed = next_emit(dialog.finished)
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        await closed
        passes = next_emit(run.desktop.synced)
        window.refresh_action.trigger()
        await passes  # the loop still runs after the dialog
        qtbot.keyClick(window.table, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


async def test_close_button_with_the_settings_dialog_open(demo_home: Path, qtbot: QtBot) -> None:
    async with served_demo(demo_home, qtbot) as run:
        opened = next_dialog()
        run.desktop.window.settings_action.trigger()
        dialog = await opened
        run.desktop.window.close()
    assert not dialogs.open_dialogs()
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()
