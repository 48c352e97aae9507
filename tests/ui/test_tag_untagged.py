"""The "Tag N untagged assets…" action: the plan, a budget typed in, a job on Yes.

The untagged assets are read through the store as the desktop reads them
(``StoreUntagged``). Real parts: the test database, the engine's ``create_job`` and
a worker pass that submits what the queue has room for, the simulator over the real
client, real widgets and the real confirmation, answered by typing and clicking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.core.requests import CHAT_COMPLETIONS, build_tag_request
from batchmon.core.tokens import request_tokens
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from batchmon.ui.desktop import Desktop
from batchmon.ui.tag_dialog import TagJobDialog
from batchmon.ui.untagged_source import StoreUntagged
from tests.fixtures.postgres import insert_assets
from tests.helpers.engine import RED_FOX, fast_worker
from tests.helpers.jobs import MODEL, room_for_four
from tests.helpers.qt import next_dialog, next_emit


@contextlib.asynccontextmanager
async def attached(
    settings: Settings, store: PostgresStore, client: BatchClient, qtbot: QtBot
) -> AsyncIterator[Desktop]:
    """The desktop on screen, reading untagged assets from ``store``, closed afterwards."""
    desktop = Desktop(settings, native_notifications=False)
    desktop.set_untagged_source(StoreUntagged(store))
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    try:
        await desktop.attach(store, client)
        yield desktop
    finally:
        async with asyncio.timeout(5):
            await desktop.aclose()


async def tag_dialog(desktop: Desktop) -> TagJobDialog:
    """Choose "Tag N untagged assets…" and return the confirmation it opens."""
    opened = next_dialog()
    desktop.window.tag_action.trigger()
    dialog = await opened
    assert isinstance(dialog, TagJobDialog)
    return dialog


async def answer_yes(qtbot: QtBot, desktop: Desktop, dialog: TagJobDialog) -> str:
    """Click Yes; returns the id of the job the desktop then created."""
    created = next_emit(desktop.job_created)
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.Yes), Qt.MouseButton.LeftButton
    )
    (job_id,) = await created
    return str(job_id)


async def test_tag_untagged_shows_the_plan_and_creates_a_job_with_the_budget(
    client: BatchClient, store: PostgresStore, database_url: str, qtbot: QtBot
) -> None:
    insert_assets(database_url, 12, url_prefix=RED_FOX)
    settings = Settings(poll_interval=0.05, poll_limit=600.0)
    async with attached(settings, store, client, qtbot) as desktop:
        action = desktop.window.tag_action
        assert action.isVisible() and action.text() == "Tag 12 untagged assets…"

        dialog = await tag_dialog(desktop)
        assert dialog.question.text() == "Tag 12 untagged assets as one job?"
        assert "12 requests in 1 batch" in dialog.plan.text()
        assert "saves $" in dialog.plan.text()
        assert dialog.size_note.text().startswith("Image sizes unknown: each counted at the")
        dialog.budget.selectAll()
        qtbot.keyClicks(dialog.budget, "2.5")
        job_id = await answer_yes(qtbot, desktop, dialog)
        assert (
            "Job " in desktop.window.banner.text and "1 batches" not in desktop.window.banner.text
        )
        (job,) = await store.job_summaries()
        assert job.id == job_id and (job.assets, job.max_cost, job.image_size) == (12, 2.5, None)

        await fast_worker(client, store).run_once()  # the worker sends it: there is room
        synced = next_emit(desktop.synced)
        desktop.window.refresh_action.trigger()
        await synced
        row = desktop.window.jobs.job_item(job.id)
        assert row is not None and row.text(3) == "0 queued · 1 running · 0 done"
        await desktop.refresh_untagged()
        assert not action.isVisible()  # all twelve are pending now


async def test_the_plan_starts_at_the_setting_and_follows_the_size_chosen_into_the_job(
    client: BatchClient, store: PostgresStore, database_url: str, qtbot: QtBot
) -> None:
    """At 1024 x 1024 four requests fill a batch of this limit; at 512 x 512 an image costs
    a third as much but the text does not shrink, so the twelve take two batches."""
    body = build_tag_request("x", f"{RED_FOX}/0.jpg", model=MODEL)["body"]
    large = request_tokens(body, CHAT_COMPLETIONS, image_size=(1024, 1024))
    await store.set_model_limit(MODEL, room_for_four(large))
    insert_assets(database_url, 12, url_prefix=RED_FOX)
    settings = Settings(poll_interval=0.05, poll_limit=600.0, image_size=(1024, 1024))
    async with attached(settings, store, client, qtbot) as desktop:
        dialog = await tag_dialog(desktop)
        assert dialog.image_size.currentText() == "1024x1024"
        assert dialog.size_note.text() == "Images counted at 1024 x 1024: 25,501 tokens each"
        assert "12 requests in 3 batches" in dialog.plan.text()
        before = dialog.plan.text()

        replanned = next_emit(dialog.replanned)
        dialog.image_size.setCurrentIndex(dialog.image_size.findText("512x512"))
        assert not dialog.yes.isEnabled()  # until the plan shown is the one at 512 x 512
        await replanned
        assert "12 requests in 2 batches" in dialog.plan.text() and dialog.plan.text() != before
        assert dialog.size_note.text() == "Images counted at 512 x 512: 8,500 tokens each"
        job_id = await answer_yes(qtbot, desktop, dialog)
        job = await store.get_job(job_id)
        assert job is not None and (job.image_size, job.batches_queued) == ((512, 512), 2)
