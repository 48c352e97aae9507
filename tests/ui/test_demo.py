"""The embedded default: with nothing configured, a batch completes on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytestqt.qtbot import QtBot

from batchmon.config import Settings
from batchmon.ui.app import Desktop
from batchmon.ui.demo import DEMO_BATCHES, DemoEnvironment, DemoPace

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

        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def check(*_: object) -> None:
            item = desktop.batches.get(batch_id)
            finished = item and item.status == "completed" and item.pending_assets == 0
            if finished and not done.done():
                done.set_result(None)

        desktop.synced.connect(check)
        desktop.model.dataChanged.connect(check)
        desktop.model.rowsInserted.connect(check)
        await asyncio.wait_for(done, TIMEOUT)
        assets = await env.store.batch_assets(batch_id)
        assert len(assets) == len(quick[0].subjects)
        assert all(a.status == "completed" and a.tags for a in assets)
    finally:
        await desktop.aclose()
        await env.aclose()
