"""The "Tag N untagged assets…" action: the plan, a budget typed in, a job on Yes.

The untagged assets are read through the store as the desktop reads them
(``StoreUntagged``). Real parts: the test database, the engine's ``create_job`` and
a worker pass that submits what the queue has room for, the simulator over the real
client, real widgets and the real confirmation, answered by typing and clicking.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from batchmon.ui.desktop import Desktop
from batchmon.ui.tag_dialog import TagJobDialog
from batchmon.ui.untagged_source import StoreUntagged
from tests.fixtures.postgres import insert_assets
from tests.helpers.engine import RED_FOX, fast_worker
from tests.helpers.qt import next_dialog, next_emit


async def test_tag_untagged_shows_the_plan_and_creates_a_job_with_the_budget(
    client: BatchClient, store: PostgresStore, database_url: str, qtbot: QtBot
) -> None:
    insert_assets(database_url, 12, url_prefix=RED_FOX)
    desktop = Desktop(Settings(poll_interval=0.05, poll_limit=600.0), native_notifications=False)
    desktop.set_untagged_source(StoreUntagged(store))
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    try:
        await desktop.attach(store, client)
        action = desktop.window.tag_action
        assert action.isVisible() and action.text() == "Tag 12 untagged assets…"

        opened = next_dialog()
        action.trigger()
        dialog = await opened
        assert isinstance(dialog, TagJobDialog)
        assert dialog.question.text() == "Tag 12 untagged assets as one job?"
        assert "12 requests in 1 batch" in dialog.plan.text()
        assert "saves $" in dialog.plan.text()
        dialog.budget.selectAll()
        qtbot.keyClicks(dialog.budget, "2.5")
        created = next_emit(desktop.job_created)
        qtbot.mouseClick(
            dialog.buttons.button(QDialogButtonBox.StandardButton.Yes), Qt.MouseButton.LeftButton
        )
        (job_id,) = await created
        assert (
            "Job " in desktop.window.banner.text and "1 batches" not in desktop.window.banner.text
        )
        (job,) = await store.job_summaries()
        assert job.id == job_id and (job.assets, job.max_cost) == (12, 2.5)

        await fast_worker(client, store).run_once()  # the worker sends it: there is room
        synced = next_emit(desktop.synced)
        desktop.window.refresh_action.trigger()
        await synced
        row = desktop.window.jobs.job_item(job.id)
        assert row is not None and row.text(3) == "0 queued · 1 running · 0 done"
        await desktop.refresh_untagged()
        assert not action.isVisible()  # all twelve are pending now
    finally:
        async with asyncio.timeout(5):
            await desktop.aclose()
