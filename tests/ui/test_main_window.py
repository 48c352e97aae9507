"""The main window end to end: a click goes through the engine to the simulator and back.

Real parts only: the embedded PostgreSQL (``store``), the real BatchClient over the
in-process simulator on a ManualClock, the real engine and worker, real widgets and real
confirmation dialogs offscreen (the test clicks them). Waits are futures on signals;
simulated time moves only when the test advances it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import httpx2
import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.rules import request_fails
from batchmon.store.postgres import PostgresStore
from batchmon.ui import dialogs
from batchmon.ui.actions import Action
from batchmon.ui.desktop import Desktop
from batchmon.ui.main_window import MainWindow
from batchmon.ui.notifications import DesktopNotifier
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY
from tests.helpers.batches import make_batch
from tests.helpers.qt import click, next_dialog, next_emit, press, question, until
from tests.ui.notification_server import notification_session

TIMEOUT = 20.0
#: The desktop must stop within this after any dialog (a frozen loop never would).
QUIT_SECONDS = 5.0
#: Of the 8 requests in each partially failing batch below, this many fail.
FAILING = 3


@dataclass
class Running:
    """The desktop and the worker, and the simulator and database both of them use."""

    desktop: Desktop
    store: PostgresStore
    client: BatchClient
    worker: Worker
    simulator: Simulator
    database_url: str


OpenDesktop = Callable[..., AbstractAsyncContextManager[Running]]


@asynccontextmanager
async def running_desktop(
    qtbot: QtBot,
    simulator: Simulator,
    database_url: str,
    http_client: httpx2.AsyncClient,
    *,
    native: bool = False,
) -> AsyncIterator[Running]:
    """The whole desktop over the test database and simulator, with a server-side worker.

    Opened and closed inside the test body, so every task ends on the loop it ran on.
    Closing must take less than QUIT_SECONDS: a frozen loop (a nested dialog loop) fails.
    """
    store = await PostgresStore.open(database_url)
    client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=http_client
    )
    desktop = Desktop(Settings(poll_interval=0.05, poll_limit=600.0), native_notifications=native)
    worker = Worker(
        client,
        store,
        WorkerConfig(interval=timedelta(seconds=0.05), min_age=timedelta(0), worker_id="test"),
    )
    worker_task = asyncio.ensure_future(worker.run_forever())
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    try:
        yield Running(desktop, store, client, worker, simulator, database_url)
    finally:
        async with asyncio.timeout(QUIT_SECONDS):
            worker.request_stop()
            await worker_task
            await desktop.aclose()
        await client.aclose()
        await store.close()


@pytest.fixture
def open_desktop(
    qtbot: QtBot, simulator: Simulator, database_url: str, asgi_http_client: httpx2.AsyncClient
) -> OpenDesktop:
    """``running_desktop`` over this test's parts, for the test body to open (``native=``)."""
    return partial(running_desktop, qtbot, simulator, database_url, asgi_http_client)


def failing_asset_ids(count: int, failing: int, fraction: float = 0.5) -> list[str]:
    """Asset ids of which exactly ``failing`` are scripted failures at ``fraction``.

    The simulator decides failures by hashing each custom_id (the asset id); fixed ids
    make the test's numbers the same on every run.
    """
    fails: list[str] = []
    passes: list[str] = []
    n = 0
    while len(fails) < failing or len(passes) < count - failing:
        candidate = str(uuid.uuid5(uuid.NAMESPACE_URL, f"batchmon-test-asset-{n}"))
        n += 1
        bucket = fails if request_fails(candidate, fraction) else passes
        bucket.append(candidate)
    return fails[:failing] + passes[: count - failing]


async def submit(run: Running, count: int, *, failing: int = 0, **meta: str) -> str:
    """Submit ``count`` new assets as one batch, ``failing`` of them scripted to fail."""
    ids = failing_asset_ids(count, failing)
    with psycopg.connect(run.database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into public.assets (id, image_url) values (%s, %s)",
            [(i, f"https://img.example.test/red-fox/{n}.jpg") for n, i in enumerate(ids)],
        )
    if failing:
        meta["sim_fail_fraction"] = "0.5"
    assets = await run.store.assets_by_ids(ids)
    result = await submit_assets(run.client, run.store, assets, metadata=meta)
    return result.batches[0].id


async def poll_runs(store: PostgresStore) -> int:
    return len(await store.recent_poll_runs(limit=1000))


async def reaches(desktop: Desktop, batch_id: str, status: str) -> None:
    """Wait until the window's list shows ``batch_id`` in ``status``."""
    await until(
        desktop.synced,
        lambda: (item := desktop.batches.get(batch_id)) is not None and item.status == status,
    )


async def shown_in_pane(desktop: Desktop, batch_id: str) -> None:
    """Select ``batch_id`` in the list and wait until the detail pane shows it."""
    shown = next_emit(desktop.window.detail_shown, lambda shown_id: shown_id == batch_id)
    assert desktop.window.select_batch(batch_id)
    await shown


async def completes_and_the_loop_runs_on(run: Running, batch_id: str) -> None:
    """The new batch is polled to completion, then Refresh and the worker run on."""
    run.simulator.advance(3600)
    await reaches(run.desktop, batch_id, "completed")
    await loop_keeps_running(run)


async def loop_keeps_running(run: Running) -> None:
    """After a dialog: Refresh still makes passes, and the worker records runs again."""
    runs = await poll_runs(run.store)
    passes = 0
    while passes < 2 or await poll_runs(run.store) <= runs:
        synced = next_emit(run.desktop.synced)
        run.desktop.window.refresh_action.trigger()
        await synced
        passes += 1


async def asked(
    window: MainWindow, action: str, trigger: QAbstractButton | Callable[[], object]
) -> tuple[QMessageBox, Awaitable[tuple[Any, ...]]]:
    """``trigger`` ``action`` as a person does: the question it asks, and its outcome to come.

    Both waits are armed before the trigger, so neither emission can be missed.
    """
    finished = next_emit(window.action_finished, lambda done, *_: done == action)
    opened = next_dialog()
    if isinstance(trigger, QAbstractButton):
        QTest.mouseClick(trigger, Qt.MouseButton.LeftButton)  # as qtbot.mouseClick does
    else:
        trigger()
    return await question(opened), finished


def include_permanent(qtbot: QtBot, box: QMessageBox) -> None:
    """Tick "Include N permanent failures" (the simulator's failures are bad image URLs,
    which a retry leaves out unless asked): with nothing else to send, Yes waits for it."""
    check = box.checkBox()
    yes = box.button(QMessageBox.StandardButton.Yes)
    assert check is not None and not check.isChecked() and not yes.isEnabled()
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert check.isChecked() and yes.isEnabled()


async def completed_partially(run: Running) -> tuple[str, Desktop]:
    """A completed batch of 8 with FAILING failed requests, applied and shown in the pane."""
    desktop = run.desktop
    old_id = await submit(run, 8, failing=FAILING)
    await desktop.attach(run.store, run.client)
    run.simulator.advance(3600)  # validating -> in_progress -> finalizing -> completed
    await until(
        desktop.synced,
        lambda: (
            (item := desktop.batches.get(old_id)) is not None
            and item.status == "completed"
            and item.pending_assets == 0
        ),
    )
    old = desktop.batches.get(old_id)
    assert old is not None and old.progress.failed == FAILING
    await shown_in_pane(desktop, old_id)
    return old_id, desktop


async def running_batch(run: Running) -> tuple[str, Desktop]:
    """A batch of 5 well into its 10 minutes in progress, shown in the pane."""
    desktop = run.desktop
    batch_id = await submit(run, 5, sim_duration="600")
    await desktop.attach(run.store, run.client)
    run.simulator.advance(30)  # past validation, well before the end
    await reaches(desktop, batch_id, "in_progress")
    await shown_in_pane(desktop, batch_id)
    return batch_id, desktop


async def test_retry_button_asks_then_resubmits_failed_requests_and_the_loop_runs_on(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        old_id, desktop = await completed_partially(run)
        pane = desktop.window.detail
        assert pane.retry_button.isVisible() and pane.retry_button.isEnabled()
        assert not pane.cancel_button.isVisible()

        box, finished = await asked(desktop.window, "retry", pane.retry_button)
        assert f"{FAILING} permanent failures would fail the same way again" in box.text()
        assert f"Resubmit 0 requests from {old_id}" in box.text()
        include_permanent(qtbot, box)
        assert f"Resubmit {FAILING} requests from {old_id}" in box.text()
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, batch_id, new_id = await finished
        assert batch_id == old_id
        assert isinstance(new_id, str) and new_id != old_id
        assert not dialogs.open_dialogs()

        simulator.advance(10)  # past validation: OpenAI counts the requests from here
        new_batch = simulator.batch(new_id)
        assert new_batch.metadata is not None and new_batch.metadata["retry_of"] == old_id
        assert new_batch.request_counts is not None
        assert new_batch.request_counts.total == FAILING

        row = desktop.batches.get(old_id)
        assert row is not None and row.retried_by == new_id
        assert Action.RETRY not in desktop.window._actions_for(row)
        assert "Resubmitted" in desktop.window.banner.text
        assert new_id in desktop.window.banner.text

        # The loop is alive: the new batch is polled to completion, the worker runs on.
        await completes_and_the_loop_runs_on(run, new_id)
        await until(desktop.window.detail_shown, lambda: not pane.retry_button.isVisible())
        assert new_id in pane.lineage.text()


async def test_retry_answered_no_resubmits_nothing(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        old_id, desktop = await completed_partially(run)
        before = len(simulator.list_batches(limit=100)["data"])
        box, finished = await asked(
            desktop.window,
            "retry",
            lambda: qtbot.keyClick(
                desktop.window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier
            ),
        )
        click(qtbot, box, QMessageBox.StandardButton.No)
        assert await finished == ("retry", old_id, None)
        assert len(simulator.list_batches(limit=100)["data"]) == before
        item = desktop.batches.get(old_id)
        assert item is not None and item.retried_by is None
        assert desktop.window.detail.retry_button.isEnabled()
        await loop_keeps_running(run)


async def test_retry_all_failed_by_keyboard_enter_accepts(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        old_id, desktop = await completed_partially(run)
        await until(desktop.window.summary_changed, desktop.window.retry_all_action.isEnabled)

        def trigger() -> None:
            qtbot.keyClick(
                desktop.window.table,
                Qt.Key.Key_R,
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
            )

        box, finished = await asked(desktop.window, "retry_all", trigger)
        include_permanent(qtbot, box)
        assert f"Resubmit about {FAILING} requests from 1 batch?" in box.text()
        press(qtbot, box, Qt.Key.Key_Return)
        _, _, created = await finished
        assert isinstance(created, list) and len(created) == 1
        (new_id,) = created
        assert simulator.batch(new_id).metadata["retry_of"] == old_id  # type: ignore[index]
        await completes_and_the_loop_runs_on(run, new_id)


async def test_the_notifications_retry_asks_and_resubmits(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    """Without a notification server, the notice is the banner; its Retry… is the action."""
    async with open_desktop() as run:
        desktop = run.desktop
        banner = desktop.window.banner
        old_id = await submit(run, 8, failing=FAILING)
        baseline = next_emit(desktop.synced)
        await desktop.attach(run.store, run.client)
        await baseline  # the first pass is a silent baseline: finish only after it
        simulator.advance(3600)
        await until(
            desktop.synced,
            lambda: banner.action_button.isVisible() and banner.action_button.text() == "Retry…",
        )
        assert old_id in banner.text or "failed" in banner.text
        box, finished = await asked(desktop.window, "retry", banner.action_button)
        assert old_id in box.text()
        include_permanent(qtbot, box)
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, batch_id, new_id = await finished
        assert batch_id == old_id and isinstance(new_id, str)
        await completes_and_the_loop_runs_on(run, new_id)


async def test_the_desktop_notifications_retry_button_asks_and_resubmits(
    open_desktop: OpenDesktop,
    simulator: Simulator,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The partial failure reaches a notification server; pressing its Retry asks first."""
    async with (
        notification_session(monkeypatch) as session,
        open_desktop(native=True) as run,
    ):
        desktop = run.desktop
        old_id = await submit(run, 8, failing=FAILING)
        chosen = next_emit(desktop.notifier_chosen)
        baseline = next_emit(desktop.synced)
        await desktop.attach(run.store, run.client)
        (notifier,) = await chosen
        assert isinstance(notifier, DesktopNotifier)
        await baseline
        simulator.advance(3600)
        note = await asyncio.wait_for(session.server.received.get(), TIMEOUT)
        assert note.summary == "Batch completed with failures" and old_id in note.body
        (retry_key,) = [key for key, title in note.actions.items() if title == "Retry"]
        await notifier.drain()  # sent and listening for its buttons, as before a person's press

        box, finished = await asked(
            desktop.window, "retry", lambda: session.server.press(note.id, retry_key)
        )
        include_permanent(qtbot, box)
        assert f"Resubmit {FAILING} requests from {old_id}" in box.text()
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, batch_id, new_id = await finished
        assert batch_id == old_id and isinstance(new_id, str)
        await completes_and_the_loop_runs_on(run, new_id)


async def test_cancel_button_asks_then_cancels_a_running_batch(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        batch_id, desktop = await running_batch(run)
        cancel = desktop.window.detail.cancel_button
        assert cancel.isVisible() and not desktop.window.detail.retry_button.isVisible()

        box, finished = await asked(desktop.window, "cancel", cancel)
        assert f"Cancel {batch_id}?" in box.text()
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, _, status = await finished
        assert status == "cancelling"
        assert simulator.batch(batch_id).status == "cancelling"

        simulator.advance(60)
        await reaches(desktop, batch_id, "cancelled")
        item = desktop.batches.get(batch_id)
        assert item is not None and Action.RETRY in desktop.window._actions_for(item)
        await loop_keeps_running(run)


async def test_the_row_menu_pops_up_without_blocking_and_its_cancel_asks(
    open_desktop: OpenDesktop, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        batch_id, desktop = await running_batch(run)
        table = desktop.window.table
        row = desktop.window.proxy.mapFromSource(desktop.model.index_of(batch_id))
        table.customContextMenuRequested.emit(table.visualRect(row).center())  # right-click
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu) and menu.isVisible()
        await loop_keeps_running(run)  # an open menu does not hold the loop

        def trigger() -> None:
            _menu_entry(menu, "Cancel batch").trigger()
            menu.close()

        box, finished = await asked(desktop.window, "cancel", trigger)
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        assert await finished == ("cancel", batch_id, "cancelling")


async def test_delete_key_asks_and_escape_keeps_the_batch_running(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    async with open_desktop() as run:
        batch_id, desktop = await running_batch(run)
        box, finished = await asked(
            desktop.window,
            "cancel",
            lambda: qtbot.keyClick(desktop.window.table, Qt.Key.Key_Delete),
        )
        press(qtbot, box, Qt.Key.Key_Escape)
        assert await finished == ("cancel", batch_id, None)
        assert simulator.batch(batch_id).status == "in_progress"
        await loop_keeps_running(run)


async def test_a_failing_action_is_shown_in_the_banner(open_desktop: OpenDesktop) -> None:
    async with open_desktop() as run:
        await run.desktop.attach(run.store, run.client)
        window = run.desktop.window
        finished = next_emit(window.action_finished)
        window.request_retry("batch_that_does_not_exist")
        action, batch_id, outcome = await finished
        assert (action, batch_id) == ("retry", "batch_that_does_not_exist")
        assert isinstance(outcome, Exception)
        assert window.banner.isVisible() and window.banner.level == "error"
        assert "batch_that_does_not_exist" in window.banner.text
        assert "Retry failed" in window.banner.text


async def test_pause_button_pauses_the_poller(open_desktop: OpenDesktop) -> None:
    async with open_desktop() as run:
        desktop = run.desktop
        await desktop.attach(run.store, run.client)
        desktop.window.pause_action.trigger()
        assert desktop.poller.paused and not desktop.poller.timer_active
        assert "paused" in desktop.window.status.poll_label.text()
        assert desktop.tray.pause_action.isChecked()
        desktop.window.pause_action.trigger()
        assert not desktop.poller.paused
        assert not desktop.tray.pause_action.isChecked()


def test_window_title_and_toolbar(qtbot: QtBot) -> None:
    app = Desktop(Settings(), demo=True, native_notifications=False)
    qtbot.addWidget(app.window)
    window = app.window
    assert "Demo" in window.windowTitle()
    labels = [a.text() for a in window.findChildren(type(window.refresh_action))]
    for wanted in ("Refresh", "Pause polling", "Retry all failed"):
        assert wanted in labels
    assert not window.retry_all_action.isEnabled(), "nothing to retry in an empty list"
    plain = Desktop(Settings(), native_notifications=False)
    qtbot.addWidget(plain.window)
    assert "Demo" not in plain.window.windowTitle()


async def test_keys_refresh_search_and_say_what_they_do(qtbot: QtBot) -> None:
    """F5 refreshes, Ctrl+F goes to the search box; menus and tooltips name the keys."""
    desktop = Desktop(Settings(), native_notifications=False)
    window = desktop.window
    qtbot.addWidget(window)
    app = QGuiApplication.instance()
    assert isinstance(app, QGuiApplication)
    activated = until(app.focusWindowChanged, window.isActiveWindow)
    window.show()
    window.activateWindow()
    await activated

    refreshed = next_emit(window.refresh_requested)
    qtbot.keyClick(window.table, Qt.Key.Key_F5)
    await refreshed
    qtbot.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    # Typing in the search box edits the text; Delete there cancels nothing.
    qtbot.keyClicks(window.search, "fox")
    qtbot.keyClick(window.search, Qt.Key.Key_Delete)
    assert "Select a running batch" not in window.banner.text
    # With nothing selected, Ctrl+R says what to select instead of doing nothing.
    qtbot.keyClick(window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert "Select a failed batch" in window.banner.text

    expected = {
        window.refresh_action: "F5",
        window.quit_action: "Ctrl+Q",
        window.retry_action: "Ctrl+R",
        window.retry_all_action: "Ctrl+Shift+R",
        window.find_action: "Ctrl+F",
        window.cancel_action: "Del",
    }
    in_menus = {a for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()}
    for action, key in expected.items():
        assert action.shortcut().toString() == key
        assert f"({key})" in action.toolTip(), action.toolTip()
        assert action in in_menus, f"{action.text()} is in no menu"
    assert "Ctrl+F" in window.search.toolTip()
    await desktop.aclose()


def test_pause_notifications_from_toolbar_or_tray_and_mute_one_batch(qtbot: QtBot) -> None:
    desktop = Desktop(Settings(), native_notifications=False)
    window, tray, center = desktop.window, desktop.tray, desktop.notifications
    qtbot.addWidget(window)
    center.finish_baseline()

    window.pause_notifications_action.trigger()
    assert center.paused and tray.pause_notifications_action.isChecked()
    assert center.observe("batch_a", "completed") is None, "paused: recorded, not shown"
    tray.pause_notifications_action.trigger()
    assert not center.paused and not window.pause_notifications_action.isChecked()

    desktop.batches.upsert_batches([make_batch("batch_m", "in_progress")])
    item = desktop.batches.get("batch_m")
    assert item is not None
    mute = _menu_entry(window.build_context_menu(item), "Mute notifications")
    assert mute.isCheckable() and not mute.isChecked()
    mute.trigger()
    assert center.is_muted("batch_m")
    assert _menu_entry(window.build_context_menu(item), "Mute notifications").isChecked()
    assert center.observe("batch_m", "completed") is None
    assert center.observe("batch_n", "completed") is not None, "other batches still notify"


def _menu_entry(menu: QMenu, text: str) -> QAction:
    (entry,) = [a for a in menu.actions() if a.text().startswith(text)]
    return entry


async def test_retry_leaves_permanent_failures_out_unless_the_box_is_ticked(
    open_desktop: OpenDesktop, simulator: Simulator, qtbot: QtBot
) -> None:
    """Of 3 failed requests one hit a rate limit (worth a retry), two a bad image URL."""
    async with open_desktop() as run:
        old_id, desktop = await completed_partially(run)
        failed = [a for a in await run.store.batch_assets(old_id) if a.status == "failed"]
        limited, permanent = failed[0], sorted(a.id for a in failed[1:])
        with psycopg.connect(run.database_url, autocommit=True) as conn:
            reason = ("rate_limit_exceeded: Rate limit reached for requests", limited.id)
            conn.execute("update public.assets set auto_tag_error = %s where id = %s", reason)
            conn.execute("update public.asset_results set error = %s where asset_id = %s", reason)

        box, finished = await asked(desktop.window, "retry", desktop.window.detail.retry_button)
        check = box.checkBox()
        assert check is not None and check.text() == "Include 2 permanent failures"
        assert not check.isChecked() and box.button(QMessageBox.StandardButton.Yes).isEnabled()
        assert f"Resubmit 1 request from {old_id}" in box.text()
        assert all(f"{asset_id}: " in box.text() for asset_id in permanent)
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
        assert f"Resubmit 3 requests from {old_id}" in box.text()
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton)  # changed their mind: off again
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, _, new_id = await finished

        simulator.advance(10)
        new_batch = simulator.batch(new_id)
        assert new_batch.request_counts is not None and new_batch.request_counts.total == 1
        assert [a.id for a in await run.store.batch_assets(new_id)] == [limited.id]
        left = {a.id: a for a in await run.store.batch_assets(old_id)}
        assert all(left[i].status == "failed" and left[i].batch_id == old_id for i in permanent)
        assert "Resubmitted 1 request" in desktop.window.banner.text
