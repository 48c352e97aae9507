"""The main window end to end: a click goes through the engine to the simulator and back.

Real parts only: the embedded PostgreSQL (``store``), the real BatchClient over the
in-process simulator on a ManualClock, the real engine, real widgets offscreen. Waits
are futures on signals; simulated time moves only when the test advances it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from batchmon.ui.actions import Action
from batchmon.ui.app import Desktop
from tests.helpers.clients import sim_batch_client
from tests.helpers.engine import submit_new
from tests.helpers.qt import next_emit, until


@dataclass
class Running:
    desktop: Desktop
    store: PostgresStore
    client: BatchClient
    confirmations: list[str]


@asynccontextmanager
async def running_desktop(
    qtbot: QtBot, database_url: str, http_client: httpx2.AsyncClient
) -> AsyncIterator[Running]:
    """The whole desktop over the test database and simulator; confirmations say yes.

    Opened and closed inside the test body, so every task ends on the loop it ran on.
    """
    confirmations: list[str] = []

    def confirm(title: str, question: str) -> bool:
        confirmations.append(question)
        return True

    store = await PostgresStore.open(database_url)
    client = sim_batch_client(http_client)
    desktop = Desktop(
        Settings(poll_interval=0.05, poll_limit=600.0),
        confirm=confirm,
        native_notifications=False,
    )
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    try:
        yield Running(desktop, store, client, confirmations)
    finally:
        await desktop.aclose()
        await client.aclose()
        await store.close()


async def submit(
    client: BatchClient, store: PostgresStore, database_url: str, count: int, **meta: str
) -> tuple[str, list[str]]:
    return await submit_new(client, store, database_url, count, metadata=meta)


async def test_retry_button_resubmits_failed_requests_and_updates_the_row(
    simulator: Simulator, database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with running_desktop(qtbot, database_url, asgi_http_client) as run:
        desktop = run.desktop
        old_id, _ = await submit(run.client, run.store, database_url, 8, sim_fail_fraction="0.5")
        await desktop.attach(run.store, run.client)
        assert old_id in desktop.batches

        simulator.advance(3600)  # validating -> in_progress -> finalizing -> completed
        await until(
            desktop.synced,
            lambda: (
                (item := desktop.batches.get(old_id)) is not None
                and item.status == "completed"
                and item.pending_assets == 0
            ),
        )
        old = desktop.batches.get(old_id)
        assert old is not None
        failed = old.progress.failed
        assert 0 < failed < 8, "the script fails about half of the requests"

        shown = next_emit(desktop.window.detail_shown, lambda batch_id: batch_id == old_id)
        assert desktop.window.select_batch(old_id)
        await shown
        pane = desktop.window.detail
        assert pane.retry_button.isVisible() and pane.retry_button.isEnabled()
        assert not pane.cancel_button.isVisible()

        finished = next_emit(desktop.window.action_finished, lambda action, *_: action == "retry")
        qtbot.mouseClick(pane.retry_button, Qt.MouseButton.LeftButton)
        _, batch_id, new_id = await finished
        assert batch_id == old_id
        assert isinstance(new_id, str) and new_id != old_id

        assert run.confirmations and f"Resubmit {failed} requests" in run.confirmations[0]
        simulator.advance(10)  # past validation: OpenAI counts the requests from here
        new_batch = simulator.batch(new_id)
        assert new_batch.metadata is not None and new_batch.metadata["retry_of"] == old_id
        assert new_batch.request_counts is not None
        assert new_batch.request_counts.total == failed

        row = desktop.batches.get(old_id)
        assert row is not None and row.retried_by == new_id
        assert Action.RETRY not in desktop.window._actions_for(row)
        new_row = desktop.batches.get(new_id)
        assert new_row is not None and new_row.retry_of == old_id
        assert "Resubmitted" in desktop.window.banner.text
        assert new_id in desktop.window.banner.text

        # The old batch's pane now points at its retry and no longer offers Retry.
        await until(desktop.window.detail_shown, lambda: not pane.retry_button.isVisible())
        assert new_id in pane.lineage.text()


async def test_cancel_button_cancels_a_running_batch(
    simulator: Simulator, database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with running_desktop(qtbot, database_url, asgi_http_client) as run:
        desktop = run.desktop
        batch_id, _ = await submit(run.client, run.store, database_url, 5, sim_duration="600")
        await desktop.attach(run.store, run.client)
        simulator.advance(30)  # past validation, well before the end
        await until(
            desktop.synced,
            lambda: (
                (item := desktop.batches.get(batch_id)) is not None and item.status == "in_progress"
            ),
        )
        shown = next_emit(desktop.window.detail_shown, lambda shown_id: shown_id == batch_id)
        desktop.window.select_batch(batch_id)
        await shown
        pane = desktop.window.detail
        assert pane.cancel_button.isVisible() and not pane.retry_button.isVisible()

        finished = next_emit(desktop.window.action_finished, lambda action, *_: action == "cancel")
        qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)
        _, _, status = await finished
        assert status == "cancelling"
        assert simulator.batch(batch_id).status == "cancelling"

        simulator.advance(60)
        await until(
            desktop.synced,
            lambda: (
                (item := desktop.batches.get(batch_id)) is not None and item.status == "cancelled"
            ),
        )
        item = desktop.batches.get(batch_id)
        assert item is not None and Action.RETRY in desktop.window._actions_for(item)


async def test_a_failing_action_is_shown_in_the_banner(
    database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with running_desktop(qtbot, database_url, asgi_http_client) as run:
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


async def test_pause_button_pauses_the_poller(
    database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with running_desktop(qtbot, database_url, asgi_http_client) as run:
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
