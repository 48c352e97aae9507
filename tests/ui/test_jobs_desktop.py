"""Jobs on the desktop: the job row with its batches, the queue in the status bar, one notice.

Real parts: the test database, the real engine (``create_job`` and a worker pass that
submits, applies and settles), the simulator over the real client, real widgets.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from PySide6.QtWidgets import QTreeWidgetItem
from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import create_job
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.job_rows import JobSummary, ModelLimit
from batchmon.store.postgres import PostgresStore
from batchmon.ui.desktop import Desktop
from batchmon.ui.jobs_view import headroom_text, job_cells, job_notice
from batchmon.ui.notifications import Notice
from batchmon.ui.settings_dialog import SettingsDialog
from tests.fixtures.postgres import insert_assets
from tests.helpers.engine import RED_FOX, fast_worker, finish
from tests.helpers.qt import next_emit

MODEL = "gpt-4o-mini"


def first_batch(row: QTreeWidgetItem) -> str:
    child = row.child(0)
    assert child is not None
    return child.text(0)


async def one_pass(desktop: Desktop) -> None:
    synced = next_emit(desktop.synced)
    desktop.window.refresh_action.trigger()
    await synced


async def test_a_job_row_groups_its_batches_and_a_big_job_is_announced_once(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    qtbot: QtBot,
) -> None:
    ids = insert_assets(database_url, 12, url_prefix=RED_FOX)
    await store.set_model_limit(MODEL, 2_000_000)
    plan = await create_job(
        store, await store.assets_by_ids(ids), MODEL, limits=PlanLimits(max_requests=3)
    )
    assert plan.batches == 4
    desktop = Desktop(
        Settings(poll_interval=0.05, poll_limit=600.0, job_notice_batches=3),
        native_notifications=False,
    )
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    notices: list[Notice] = []
    desktop.notifications.notified.connect(notices.append)
    try:
        await desktop.attach(store, client)
        await one_pass(desktop)
        pane, queue = desktop.window.jobs, desktop.window.status.queue_label
        row = pane.job_item(plan.job_id)
        assert pane.isVisible() and row is not None and row.childCount() == 4
        assert row.text(3) == "4 queued · 0 running · 0 done"
        assert first_batch(row) == "Batch 1 · not submitted yet"
        assert queue.isVisible() and queue.text() == "gpt-4o-mini: 0 / 2M tokens queued"

        worker = fast_worker(client, store)
        await worker.run_once()  # submits all four: the queue has room
        await one_pass(desktop)
        assert row.text(3) == "0 queued · 4 running · 0 done"
        assert first_batch(row).startswith("Batch 1 · batch_")
        assert not queue.text().startswith("gpt-4o-mini: 0 /")

        finish(simulator)
        for _ in range(5):
            await worker.run_once()  # applies the batches, then settles the job
            summary = await store.get_job(plan.job_id)
            if summary is not None and summary.status == "done":
                break
        await one_pass(desktop)
        await one_pass(desktop)
        assert row.text(1) == "Done" and row.text(2) == "12/12"
        assert [n.title for n in notices] == ["Job done: 12 tagged"]
        sent = [b.openai_batch_id for b in await store.job_batches(plan.job_id)]
        seen = [desktop.batches.get(i) for i in sent if i]
        assert len(seen) == 4 and all(i is not None and i.status == "completed" for i in seen)
    finally:
        async with asyncio.timeout(5):
            await desktop.aclose()


def _job(**changes: object) -> JobSummary:
    values: dict[str, object] = {
        "id": "5f0c6c9e-0000-4000-8000-000000000001",
        "user_id": None,
        "model": MODEL,
        "endpoint": "/v1/chat/completions",
        "status": "running",
        "attempts_allowed": 2,
        "max_cost": None,
        "estimated_cost": 12.5,
        "actual_cost": 3.25,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "finished_at": None,
        "assets": 250_000,
        "completed": 60_000,
        "failed": 12,
        "batches_queued": 3,
        "batches_running": 1,
        "batches_done": 2,
        "tokens_enqueued": 1_200_000,
        "token_limit": 2_000_000,
    }
    values.update(changes)
    return JobSummary(**values)  # type: ignore[arg-type]


def test_job_texts_say_progress_batches_cost_eta_and_the_outcome() -> None:
    job = _job()
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)  # an hour in, a quarter settled
    _, status, progress, batches, cost, eta = job_cells(job, now)
    assert (status, progress) == ("Running", "60,012/250,000 · 12 failed")
    assert batches == "3 queued · 1 running · 2 done"
    assert cost == "$3.25 of ~$12.50"
    assert eta.startswith("ETA 3h")
    done = _job(status="done", completed=249_988, finished_at=now)
    assert job_notice(done)[0] == "Job done: 249,988 tagged, 12 failed permanently"
    limits = [ModelLimit(MODEL, 2_000_000, "learned", tokens_enqueued=1_200_000)]
    assert headroom_text(limits) == "gpt-4o-mini: 1.2M / 2M tokens queued"
    assert headroom_text([]) == ""


def test_the_job_notice_threshold_is_a_setting_that_applies_at_once(qtbot: QtBot) -> None:
    desktop = Desktop(Settings(job_notice_batches=3), native_notifications=False)
    qtbot.addWidget(desktop.window)
    center = desktop.notifications
    center.finish_baseline()
    dialog = SettingsDialog(desktop.settings, desktop.window)
    qtbot.addWidget(dialog)
    assert dialog.job_notice_batches.value() == 3
    dialog.job_notice_batches.selectAll()
    qtbot.keyClicks(dialog.job_notice_batches, "10")
    desktop.apply_settings(dialog.current_settings())

    six_batches = _job(status="done", batches_queued=0, batches_running=0, batches_done=6)
    assert center.observe_jobs([six_batches]) == [], "six is not above ten: per batch"
    desktop.apply_settings(replace(desktop.settings, job_notice_batches=5))
    other = replace(six_batches, id="5f0c6c9e-0000-4000-8000-000000000002")
    (notice,) = center.observe_jobs([other])
    assert notice.title == "Job done: 60,000 tagged, 12 failed permanently"
