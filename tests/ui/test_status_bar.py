"""The status bar and the tray say what the channels really do, in words a person acts on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchmon.config import Settings
from batchmon.engine.sync import SyncResult
from batchmon.store.protocol import BatchRow, PollRun
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.desktop import Desktop
from batchmon.ui.poller import Poller
from batchmon.ui.status_bar import _BAD, _OK, ChannelStatusBar, server_run_health
from batchmon.ui.tray import tray_summary
from tests.helpers.batches import make_batch
from tests.helpers.clock import WallClock
from tests.helpers.qt import next_emit, until

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _run(age_s: float, applied: int = 0, error: str | None = None) -> PollRun:
    at = NOW - timedelta(seconds=age_s)
    return PollRun(started_at=at, finished_at=at, checked=3, applied=applied, failed=0, error=error)


def test_server_poller_health_in_words() -> None:
    assert server_run_health(None, NOW) == (None, "Server poller: no runs recorded")
    assert server_run_health(_run(5, applied=2), NOW) == (
        True,
        "Server poller: ran 5s ago, applied 2",
    )
    # Nothing to do is healthy, and must not read like a failure to apply.
    assert server_run_health(_run(5), NOW) == (
        True,
        "Server poller: ran 5s ago, nothing new to apply",
    )
    assert server_run_health(_run(400), NOW)[0] is False
    assert server_run_health(_run(5, error="boom"), NOW) == (
        False,
        "Server poller: last run 5s ago failed",
    )


@pytest.fixture
def clock() -> WallClock:
    return WallClock(NOW)


@pytest.fixture
def bar(qapp: Any, clock: WallClock) -> Iterator[ChannelStatusBar]:
    widget = ChannelStatusBar(now=clock)
    yield widget
    widget.deleteLater()


def test_polling_turns_stalled_when_a_pass_is_more_than_two_intervals_late(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    bar.set_polling("polling", 2.0)
    bar.note_pass()
    clock.advance(6)  # due at 2 s, overdue by exactly two intervals: still fine
    bar.check_health()
    assert "Polling every 2 s" in bar.poll_label.text()
    assert _OK in bar.poll_label.text()

    clock.advance(1)
    bar.check_health()
    assert "Polling stalled: no pass for 7s" in bar.poll_label.text()
    assert _BAD in bar.poll_label.text()

    bar.note_pass()  # the loop came back
    assert "Polling every 2 s" in bar.poll_label.text()


async def test_a_poller_whose_pass_hangs_shows_as_stalled(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    """A real Poller whose pass never returns: the label must stop saying all is well."""
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()

    async def hanging_pass() -> SyncResult:
        if not started.done():
            started.set_result(None)
        await gate.wait()
        return SyncResult(events=[], batches={"b": make_batch("b")}, requests=1)

    poller = Poller(hanging_pass, interval=2.0)
    bar.watch_poller(poller)
    bar.set_polling("polling", poller.interval)
    poller.start()
    await asyncio.wait_for(started, 5)
    clock.advance(7)
    bar.check_health()
    assert "Polling stalled: no pass for 7s" in bar.poll_label.text()

    finished = next_emit(poller.tick_finished)
    gate.set()
    await finished
    assert "Polling every 2 s" in bar.poll_label.text()
    await poller.aclose()


def test_idle_and_paused_polling_never_read_as_stalled(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    for state in ("idle", "paused", "limit", "stopped"):
        bar.set_polling(state, 2.0)
        clock.advance(3600)
        bar.check_health()
        assert "stalled" not in bar.poll_label.text(), state


def test_offline_counts_down_then_flags_an_overdue_retry(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    bar.set_polling("polling", 2.0)
    bar.set_offline(8.0, "connection refused")
    assert "Offline, retrying in 8 s" in bar.poll_label.text()
    clock.advance(5)
    bar.check_health()
    assert "Offline, retrying in 3 s" in bar.poll_label.text()
    clock.advance(3 + 16 + 1)  # the retry was due 17 s ago: more than two 8 s intervals
    bar.check_health()
    assert "Offline, retry overdue by 17s" in bar.poll_label.text()
    assert bar.poll_label.toolTip() == "connection refused"


def test_push_reconnect_counts_down_and_shows_a_stalled_reconnect(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    bar.set_push("connected")
    assert "Push connected" in bar.push_label.text()
    bar.set_push("reconnecting", "next try in 4 s", retry_in=4.0)
    assert "Push reconnecting in 4 s" in bar.push_label.text()
    clock.advance(4 + 8 + 1)
    bar.check_health()
    assert "Push stalled: reconnect overdue" in bar.push_label.text()
    bar.set_push("connected")
    assert "Push connected" in bar.push_label.text()


def test_server_poller_age_keeps_counting_and_a_missed_check_is_flagged(
    bar: ChannelStatusBar, clock: WallClock
) -> None:
    bar.set_server_run(_run(5, applied=1))
    assert "ran 5s ago, applied 1" in bar.server_label.text()
    clock.advance(40)  # the desktop's next check (every 15 s) is 25 s late: fine still
    bar.check_health()
    assert "ran 45s ago, applied 1" in bar.server_label.text()
    clock.advance(6)  # the check is now overdue by more than two 15 s intervals
    bar.check_health()
    assert "Server poller: not checked for 46s" in bar.server_label.text()
    bar.set_server_run(_run(0))
    assert "nothing new to apply" in bar.server_label.text()


def test_the_health_tick_runs_only_while_a_label_depends_on_time(
    bar: ChannelStatusBar,
) -> None:
    bar.set_polling("idle")
    assert not bar.ticking
    bar.set_polling("polling", 2.0)
    assert bar.ticking
    bar.set_polling("idle")
    assert not bar.ticking


# -- the tray badge ---------------------------------------------------------------------


def _item(batch_id: str, status: str, failed: int = 0, retried_by: str | None = None) -> BatchItem:
    completed = 0 if status == "failed" else 10 - failed
    batch = make_batch(batch_id, status, completed=completed, failed=failed, total=10)
    return BatchItem(batch, retried_by=retried_by)


def test_tray_counts_every_batch_that_still_needs_attention() -> None:
    items = [
        _item("b_partial", "completed", failed=3),
        _item("b_failed", "failed"),
        _item("b_expired", "expired", failed=0),
        _item("b_ok", "completed"),
    ]
    summary = tray_summary(items)
    assert (summary.state, summary.count) == ("failed", 3)
    assert "3 batches need attention" in summary.tooltip


def test_a_failure_whose_retry_succeeded_no_longer_counts() -> None:
    original = _item("b_partial", "completed", failed=3, retried_by="b_retry")
    running = _item("b_retry", "in_progress", failed=0)
    assert tray_summary([original, running]).count == 1  # nothing is fixed yet
    succeeded = _item("b_retry", "completed")
    summary = tray_summary([original, succeeded])
    assert (summary.state, summary.count) == ("completed", 0)
    assert "Nothing running" in summary.tooltip


def test_a_retry_that_broke_again_counts_once_for_the_chain() -> None:
    chain = [
        _item("b_1", "completed", failed=3, retried_by="b_2"),
        _item("b_2", "completed", failed=1, retried_by="b_3"),
        _item("b_3", "completed", failed=1),
    ]
    assert (tray_summary(chain).state, tray_summary(chain).count) == ("failed", 1)
    cancelled = [
        _item("b_1", "completed", failed=3, retried_by="b_2"),
        _item("b_2", "cancelled"),
    ]
    assert tray_summary(cancelled).count == 1


async def test_the_windows_badge_drops_once_the_retry_of_a_partial_batch_succeeded(
    qapp: Any,
) -> None:
    """Through the real window: store rows in, the tray summary out."""
    desktop = Desktop(Settings(), native_notifications=False)
    window = desktop.window
    try:
        at = NOW

        def row(batch_id: str, status: str, **counts: Any) -> BatchRow:
            return BatchRow(id=batch_id, user_id=None, status=status, created_at=at, **counts)

        partial = row("b_old", "completed", total=16, completed=13, failed=3)
        desktop.batches.load_rows([partial])
        await until(window.summary_changed, lambda: window.summary.count == 1)
        assert window.summary.state == "failed"

        retry = row("b_new", "in_progress", total=3, retry_of="b_old")
        desktop.batches.upsert_rows([replace(partial, retried_by="b_new"), retry])
        await until(window.summary_changed, lambda: "Tagging" in window.summary.tooltip)
        assert (window.summary.state, window.summary.count) == ("failed", 1), (
            "while the retry runs, the failure still waits"
        )
        desktop.batches.upsert_rows([replace(retry, status="completed", completed=3)])
        await until(window.summary_changed, lambda: window.summary.state == "completed")
        assert window.summary.count == 0
    finally:
        await desktop.aclose()
        window.close()
