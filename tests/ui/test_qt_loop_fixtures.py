"""Fixtures from tests/fixtures work on the Qt loop like anywhere else."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from batchmon.store.postgres import PostgresStore


async def test_store_fixture_outlives_work_left_on_the_qt_loop(
    store: PostgresStore, qtbot: QtBot
) -> None:
    """Pool work still in flight when the body returns runs while pytest-qt closes the
    widgets (Qt pumping events outside the asyncio loop); the ``store`` fixture's
    teardown must still close its pool on the loop the pool lives on."""
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    assert await store.list_batches() == []
    in_flight = [asyncio.ensure_future(store.list_batches()) for _ in range(8)]
    assert not any(task.done() for task in in_flight)
