"""The embedded default: with nothing configured, a batch completes on its own."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.core.status import is_stuck
from batchmon.sim.rules import request_fails
from batchmon.ui.batch_list import BatchList, Column
from batchmon.ui.demo import DAY, DEMO_BATCHES, DemoEnvironment, DemoPace, demo_asset_id
from batchmon.ui.desktop import Desktop
from batchmon.ui.table_model import BatchTableModel
from tests.helpers.batches import make_batch
from tests.helpers.qt import until

TIMEOUT = 30.0


async def test_demo_reaches_a_completed_and_applied_batch(qtbot: QtBot, tmp_path: Path) -> None:
    env = DemoEnvironment(tmp_path, DemoPace(day_seconds=3.0))
    desktop = Desktop(Settings(poll_interval=0.1), demo=True, native_notifications=False)
    qtbot.addWidget(desktop.window)
    assert "Demo" in desktop.window.windowTitle()
    try:
        await env.start()
        assert env.store is not None and env.client is not None
        assert env.base_url is not None and env.base_url.startswith("http://127.0.0.1:")
        await desktop.attach(env.store, env.client)
        env.start_worker()
        quick = [b for b in DEMO_BATCHES if b.label == "quick"]
        (batch_id,) = await env.submit_demo_batches(quick)
        desktop.poller.resume()

        def finished() -> bool:
            item = desktop.batches.get(batch_id)
            return bool(item and item.status == "completed" and item.pending_assets == 0)

        await until(
            desktop.synced,
            finished,
            within=TIMEOUT,
            also=(desktop.model.dataChanged, desktop.model.rowsInserted),
        )
        assets = await env.store.batch_assets(batch_id)
        assert len(assets) == len(quick[0].subjects)
        assert all(a.status == "completed" and a.tags for a in assets)
    finally:
        await desktop.aclose()
        await env.aclose()


async def test_the_demos_partial_batch_fails_the_same_four_requests_every_run(
    tmp_path: Path,
) -> None:
    """The demo seeds its asset ids, so the simulator's hash picks the same failures."""
    partial = [b for b in DEMO_BATCHES if b.label == "partial"]
    failed_ids = []
    for run in range(2):
        env = DemoEnvironment(tmp_path / f"run{run}", DemoPace(day_seconds=2.0))
        try:
            await env.start()
            assert env.client is not None and env.store is not None
            (batch_id,) = await env.submit_demo_batches(partial)
            env.simulator.clock.advance(DAY)
            batch = await env.client.retrieve(batch_id)
            assert batch.status == "completed"
            assert batch.request_counts is not None
            assert (batch.request_counts.failed, batch.request_counts.total) == (4, 16)
            failed_ids.append(
                sorted(
                    subject
                    for subject in partial[0].subjects
                    if request_fails(demo_asset_id(env.seed, "partial", subject), 0.25)
                )
            )
        finally:
            await env.aclose()
    assert failed_ids[0] == failed_ids[1]


def test_demo_batches_are_judged_on_the_demos_own_clock(tmp_path: Path) -> None:
    """Five real seconds of validating are two demo hours: not "stuck?" in the demo."""
    env = DemoEnvironment(tmp_path, DemoPace())
    base = env.time_base
    created = base.now()
    model = BatchTableModel(BatchList())
    model.set_time_base(replace(base, now=lambda: created + 5 * env.pace.scale))
    model.batch_list.upsert_batches(
        [make_batch("v", "validating", total=0, created_at=int(created))]
    )
    assert model.index(0, int(Column.TIME)).data() == "2h 00m"
    assert not is_stuck(model.item_at(0).batch, created + 5 * env.pace.scale, base.stuck_limits)
    assert is_stuck(model.item_at(0).batch, created + 5 * env.pace.scale)  # OpenAI's limits
    wall_created = base.to_wall(created)
    assert abs(wall_created - time.time()) < 5, "Created is shown on the wall clock"
