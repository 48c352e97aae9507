"""The engine's results states on the desktop: status cell, detail pane, tray, notices, Retry.

Real parts: the test database (``store``), the real BatchClient over the simulator, real
widgets and the real confirmation dialog. The state is written through the store's own
``set_results_state``, as the worker writes it when the API no longer knows a batch.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import psycopg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import BATCH_NOT_FOUND_NOTE
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from batchmon.ui.actions import Action, allowed_actions
from batchmon.ui.batch_list import BatchItem, Column
from batchmon.ui.desktop import Desktop
from batchmon.ui.notifications import Notice
from batchmon.ui.tray import tray_summary
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY
from tests.helpers.batches import make_batch
from tests.helpers.qt import click, next_dialog, next_emit, question, until

QUIT_SECONDS = 5.0


@asynccontextmanager
async def attached_desktop(
    qtbot: QtBot, database_url: str, http_client: httpx2.AsyncClient
) -> AsyncIterator[tuple[Desktop, PostgresStore, BatchClient]]:
    store = await PostgresStore.open(database_url)
    client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=http_client
    )
    desktop = Desktop(Settings(poll_interval=0.05, poll_limit=600.0), native_notifications=False)
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    try:
        yield desktop, store, client
    finally:
        async with asyncio.timeout(QUIT_SECONDS):
            await desktop.aclose()
        await client.aclose()
        await store.close()


async def submitted(client: BatchClient, store: PostgresStore, database_url: str, n: int) -> str:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into public.assets (id, image_url) values (%s, %s)",
            [(i, f"https://img.example.test/owl/{i}.jpg") for i in ids],
        )
    result = await submit_assets(client, store, await store.assets_by_ids(ids))
    return result.batches[0].id


async def one_pass(desktop: Desktop) -> None:
    synced = next_emit(desktop.synced)
    desktop.window.refresh_action.trigger()
    await synced


async def watched(
    desktop: Desktop, store: PostgresStore, client: BatchClient, database_url: str, n: int
) -> tuple[str, list[Notice]]:
    """A batch of ``n`` submitted and watched past the silent baseline; the notices after."""
    batch_id = await submitted(client, store, database_url, n)
    await desktop.attach(store, client)
    await one_pass(desktop)  # the baseline ends with the first pass
    notices: list[Notice] = []
    desktop.notifications.notified.connect(notices.append)
    return batch_id, notices


def status_cell(desktop: Desktop, batch_id: str) -> str:
    return str(desktop.model.index_of(batch_id, Column.STATUS).data())


async def test_a_vanished_batch_is_shown_counted_notified_once_and_retried(
    simulator: Simulator, database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with attached_desktop(qtbot, database_url, asgi_http_client) as (desktop, store, client):
        batch_id, notices = await watched(desktop, store, client, database_url, 4)
        assert status_cell(desktop, batch_id) == "Validating"

        await store.set_results_state(batch_id, "batch_not_found", BATCH_NOT_FOUND_NOTE)
        await one_pass(desktop)
        await one_pass(desktop)  # seen again: no second notice

        assert status_cell(desktop, batch_id) == "Batch not found: the API no longer knows it"
        [notice] = notices
        assert (notice.title, notice.can_retry) == ("Batch not found", True)
        assert "retry rebuilds the requests" in notice.body
        summary = tray_summary(desktop.batches)
        assert (summary.state, summary.count) == ("failed", 1)

        shown = next_emit(desktop.window.detail_shown, lambda shown_id: shown_id == batch_id)
        assert desktop.window.select_batch(batch_id)
        await shown
        pane = desktop.window.detail
        assert pane.summary.text().startswith("Batch not found: the API no longer knows it")
        assert pane.retry_button.isVisible() and not pane.cancel_button.isVisible()

        finished = next_emit(desktop.window.action_finished, lambda action, *_: action == "retry")
        opened = next_dialog()
        qtbot.mouseClick(pane.retry_button, Qt.MouseButton.LeftButton)
        box = await question(opened)
        assert f"Resubmit 4 requests from {batch_id}" in box.text()
        click(qtbot, box, QMessageBox.StandardButton.Yes)
        _, _, new_id = await finished
        assert isinstance(new_id, str) and new_id != batch_id
        simulator.advance(10)
        new_batch = simulator.batch(new_id)
        assert new_batch.metadata is not None and new_batch.metadata["retry_of"] == batch_id
        assert new_batch.request_counts is not None and new_batch.request_counts.total == 4


async def test_waiting_for_queue_room_is_not_a_failure_and_incomplete_results_notify(
    simulator: Simulator, database_url: str, asgi_http_client: httpx2.AsyncClient, qtbot: QtBot
) -> None:
    async with attached_desktop(qtbot, database_url, asgi_http_client) as (desktop, store, client):
        waiting, notices = await watched(desktop, store, client, database_url, 2)

        await store.set_results_state(waiting, "waiting_for_queue", "waiting for queue room")
        await one_pass(desktop)
        assert status_cell(desktop, waiting) == "Waiting for queue room"
        assert notices == []
        assert tray_summary(desktop.batches).state != "failed"

        note = "results incomplete: 1 of 2 received"
        await store.set_results_state(waiting, "results_incomplete", note)
        await until(desktop.synced, lambda: len(notices) == 1)
        assert status_cell(desktop, waiting) == "Results incomplete: 1 of 2 received"
        assert notices[0].title == "Results incomplete" and not notices[0].can_retry
        assert tray_summary(desktop.batches).count == 1

        await store.set_results_state(waiting, None)
        await one_pass(desktop)
        assert status_cell(desktop, waiting) == "Validating"


def test_retry_is_offered_for_batches_whose_results_cannot_arrive() -> None:
    item = BatchItem(make_batch(status="in_progress"))
    for state in ("batch_not_found", "results_expired"):
        gone = item.with_results(state, None)
        actions = allowed_actions(gone.status, results_state=gone.results_state)
        assert Action.RETRY in actions and Action.CANCEL not in actions
    waiting = allowed_actions("in_progress", results_state="waiting_for_queue")
    assert Action.CANCEL in waiting and Action.RETRY not in waiting
    done = allowed_actions("completed", results_state="results_expired", retried_by="batch_new")
    assert Action.RETRY not in done
