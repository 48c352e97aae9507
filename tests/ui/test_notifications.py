"""One notice per batch transition across poll and push; silent baseline; mute; pause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from batchmon.core.diff import diff
from batchmon.engine.sync import SyncResult
from batchmon.store.protocol import Change
from batchmon.ui.notifications import (
    BannerNotifier,
    DesktopNotifier,
    Notice,
    NotificationCenter,
    Severity,
    TrayNotifier,
    choose_notifier,
    make_notice,
)
from batchmon.ui.resources import notification_icon_path
from tests.helpers.batches import make_batch
from tests.helpers.clock import Clock
from tests.ui.notification_server import NotificationServer, Received, notification_session

TIMEOUT = 10.0


@pytest.fixture
def clock() -> Clock:
    return Clock(5000.0)


@pytest.fixture
def banner(qapp: Any) -> BannerNotifier:
    return BannerNotifier()


@pytest.fixture
def shown(banner: BannerNotifier) -> list[Notice]:
    notices: list[Notice] = []
    banner.banner.connect(notices.append)
    return notices


@pytest.fixture
def center(banner: BannerNotifier, clock: Clock) -> NotificationCenter:
    c = NotificationCenter(banner, now=clock)
    c.finish_baseline()
    return c


def completion(batch_id: str = "b1", completed: int = 10, failed: int = 0) -> SyncResult:
    old = make_batch(batch_id, "finalizing", completed=10)
    new = make_batch(batch_id, "completed", completed=completed, failed=failed)
    return SyncResult(events=diff(old, new), batches={batch_id: new}, requests=1)


def test_poll_then_push_of_the_same_transition_notifies_once(
    center: NotificationCenter, shown: list[Notice]
) -> None:
    center.handle_sync_result(completion())
    center.handle_change(Change(kind="batch", batch_id="b1", status="completed"))
    assert [n.key for n in shown] == [("b1", "completed")]
    assert shown[0].title == "Batch completed" and shown[0].severity == Severity.INFO
    assert "All 10 requests succeeded" in shown[0].body and not shown[0].can_retry


def test_push_then_poll_of_the_same_transition_notifies_once(
    center: NotificationCenter, shown: list[Notice]
) -> None:
    assert center.handle_change(Change(kind="batch", batch_id="b1", status="completed"))
    assert center.handle_sync_result(completion()) == []
    assert len(shown) == 1


def test_progress_and_non_terminal_changes_do_not_notify(
    center: NotificationCenter, shown: list[Notice]
) -> None:
    a = make_batch("b1", "in_progress", completed=1)
    b = make_batch("b1", "in_progress", completed=5)
    c = make_batch("b1", "finalizing", completed=10)
    center.handle_events(diff(a, b) + diff(b, c))
    center.handle_change(Change(kind="assets", batch_id="b1"))
    center.handle_change(Change(kind="resync"))
    assert shown == []


def test_start_up_is_a_silent_baseline(banner: BannerNotifier, shown: list[Notice]) -> None:
    center = NotificationCenter(banner)
    assert center.in_baseline
    # Push reports a batch that was already done before the first poll pass finished.
    center.handle_change(Change(kind="batch", batch_id="old", status="completed"))
    center.handle_sync_result(completion("b0"))  # the first pass is the baseline
    assert shown == [] and not center.in_baseline
    center.handle_change(Change(kind="batch", batch_id="old", status="completed"))
    assert shown == []  # still known, still silent
    center.handle_sync_result(completion("b1"))
    assert [n.batch_id for n in shown] == ["b1"]


def test_seeding_from_the_store_ends_the_baseline(
    banner: BannerNotifier, shown: list[Notice]
) -> None:
    center = NotificationCenter(banner)
    center.seed([("done", "completed"), ("run", "in_progress")])
    center.handle_change(Change(kind="batch", batch_id="done", status="completed"))
    center.handle_change(Change(kind="batch", batch_id="run", status="failed"))
    assert [n.key for n in shown] == [("run", "failed")]
    assert shown[0].severity == Severity.ERROR and shown[0].can_retry


def test_a_muted_batch_stays_quiet_and_its_transition_is_not_replayed(
    center: NotificationCenter, shown: list[Notice]
) -> None:
    center.mute("b1")
    center.handle_sync_result(completion("b1"))
    center.handle_sync_result(completion("b2"))
    assert [n.batch_id for n in shown] == ["b2"]
    center.unmute("b1")
    center.handle_change(Change(kind="batch", batch_id="b1", status="completed"))
    assert [n.batch_id for n in shown] == ["b2"]
    assert center.has_seen("b1", "completed") and not center.is_muted("b1")


def test_pause_all_for_an_hour(
    center: NotificationCenter, shown: list[Notice], clock: Clock
) -> None:
    changes: list[bool] = []
    center.paused_changed.connect(lambda paused: changes.append(paused))
    center.pause()
    assert center.paused and center.paused_until == clock.now + 3600
    center.handle_sync_result(completion("b1"))
    clock.now += 3599
    center.handle_sync_result(completion("b2"))
    assert shown == [] and center.paused
    clock.now += 1
    assert not center.paused
    assert not center.paused, "reading paused twice must not change it"
    assert changes == [True], "the pause ends when its timer says so, not when read"
    center.expire_pause()
    center.handle_sync_result(completion("b3"))
    center.handle_sync_result(completion("b1"))  # seen while paused: not replayed
    assert [n.batch_id for n in shown] == ["b3"]
    assert changes == [True, False]
    center.pause(60)
    center.resume()
    assert not center.paused and changes == [True, False, True, False]


def test_only_the_chosen_statuses_notify(center: NotificationCenter, shown: list[Notice]) -> None:
    center.set_notify_statuses({"failed"})
    center.handle_sync_result(completion("b1"))
    center.handle_change(Change(kind="batch", batch_id="b2", status="failed"))
    assert [n.key for n in shown] == [("b2", "failed")]


def test_notice_wording_follows_the_outcome() -> None:
    partial = make_notice("b", "completed", make_batch("b", "completed", completed=7, failed=3))
    assert partial.title == "Batch completed with failures"
    assert partial.severity == Severity.WARNING and partial.can_retry
    assert "7 of 10 succeeded, 3 failed" in partial.body
    all_failed = make_notice("b", "completed", make_batch("b", "completed", failed=10))
    assert all_failed.severity == Severity.ERROR and all_failed.can_retry
    expired = make_notice("b", "expired")
    assert expired.title == "Batch expired" and expired.can_retry and expired.body == "b"


def test_a_rejected_batch_says_why_without_repeating_its_title() -> None:
    errors = {
        "object": "list",
        "data": [
            {"code": "invalid_request", "line": None, "message": "scripted (sim_fail_validation)"},
            {"code": "invalid_json_line", "line": 3, "message": "not JSON"},
            {"code": "invalid_json_line", "line": 5, "message": "not JSON"},
        ],
    }
    rejected = make_notice("b", "failed", make_batch("b", "failed", total=0, errors=errors))
    assert rejected.title == "Batch failed" and rejected.severity == Severity.ERROR
    first_line = rejected.body.splitlines()[0]
    assert first_line == (
        "The input file was rejected (3 errors: invalid_json_line, invalid_request); "
        "no request ran."
    )
    assert "Batch failed" not in rejected.body and "sim_" not in rejected.body
    bare = make_notice("b", "failed", make_batch("b", "failed", total=0))
    assert bare.body == "The input file was rejected; no request ran.\nb"


def test_banner_clicks_and_retry_reach_the_center(
    center: NotificationCenter, banner: BannerNotifier
) -> None:
    opened: list[str] = []
    retried: list[str] = []
    center.open_requested.connect(lambda batch_id: opened.append(batch_id))
    center.retry_requested.connect(lambda batch_id: retried.append(batch_id))
    banner.open("b1")
    banner.retry("b2")
    assert (opened, retried) == (["b1"], ["b2"])


def test_tray_balloon_click_opens_the_last_batch(qapp: Any, clock: Clock) -> None:
    tray = QSystemTrayIcon()
    notifier = TrayNotifier(tray)
    center = NotificationCenter(notifier, now=clock)
    center.finish_baseline()
    opened: list[str] = []
    center.open_requested.connect(lambda batch_id: opened.append(batch_id))
    center.handle_sync_result(completion("b7"))
    assert notifier.last_batch == "b7"
    tray.messageClicked.emit()
    assert opened == ["b7"]


async def test_offscreen_without_tray_or_notification_service_falls_back_to_the_banner(
    qapp: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    assert not TrayNotifier.available(QSystemTrayIcon())
    chosen = await choose_notifier(tray=QSystemTrayIcon(), probe_timeout=2.0)
    assert isinstance(chosen, BannerNotifier)
    with pytest.raises(ValueError, match="unknown notifier"):
        await choose_notifier(order=("pigeon",))


# -- the real path: desktop-notifier over D-Bus to a notification server ------------------


async def _next(queue: asyncio.Queue[Received]) -> Received:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


@asynccontextmanager
async def desktop_on_a_bus(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[NotificationServer, DesktopNotifier]]:
    """A notification server on a private bus, and the notifier batchmon would choose."""
    async with notification_session(monkeypatch) as session:
        chosen = await choose_notifier(probe_timeout=TIMEOUT)
        assert isinstance(chosen, DesktopNotifier), "a running server is found on the bus"
        try:
            yield session.server, chosen
        finally:
            chosen.close()


class Answers:
    """A live center over ``notifier``, and what a person's presses asked it for."""

    def __init__(self, notifier: DesktopNotifier) -> None:
        self.center = NotificationCenter(notifier)
        self.center.finish_baseline()
        self.retried: list[str] = []
        self.opened: list[str] = []
        self._changed = asyncio.Event()
        self.center.retry_requested.connect(lambda b: self._record(self.retried, b))
        self.center.open_requested.connect(lambda b: self._record(self.opened, b))

    def _record(self, into: list[str], batch_id: str) -> None:
        into.append(batch_id)
        self._changed.set()

    async def next_press(self) -> None:
        await asyncio.wait_for(self._changed.wait(), TIMEOUT)
        self._changed.clear()


async def test_a_partial_failure_reaches_the_notification_server_and_its_retry_comes_back(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with desktop_on_a_bus(monkeypatch) as (server, notifier):
        answers = Answers(notifier)
        answers.center.handle_sync_result(completion("batch_p", completed=7, failed=3))
        note = await _next(server.received)
        assert note.app_name == "batchmon"
        assert note.app_icon == notification_icon_path().as_uri()
        assert note.summary == "Batch completed with failures"
        assert note.body == "7 of 10 succeeded, 3 failed\nbatch_p"
        assert note.hints["urgency"] == 1
        retry_keys = [k for k, title in note.actions.items() if title == "Retry"]
        assert len(retry_keys) == 1 and "default" in note.actions
        await notifier.drain()
        assert list(notifier.sent) and notifier.sent[-1]

        server.press(note.id, retry_keys[0])
        await answers.next_press()
        assert answers.retried == ["batch_p"]
        assert answers.opened == [], "Retry is not a click on the notification"


async def test_a_click_opens_the_batch_and_a_rejected_batch_is_critical(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with desktop_on_a_bus(monkeypatch) as (server, notifier):
        answers = Answers(notifier)
        rejected = make_batch("batch_r", "failed", total=0)
        answers.center.observe("batch_r", "failed", rejected)
        note = await _next(server.received)
        assert note.summary == "Batch failed"
        assert note.body.startswith("The input file was rejected")
        assert note.hints["urgency"] == 2
        assert "Retry" in note.actions.values(), "a queue-full rejection is worth a retry"
        await notifier.drain()  # sent and listening for its buttons, as before a person's click
        server.press(note.id, "default")
        await answers.next_press()
        assert (answers.opened, answers.retried) == (["batch_r"], [])


async def test_the_record_of_sent_notifications_stays_bounded(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with desktop_on_a_bus(monkeypatch) as (server, notifier):
        notice = make_notice("b", "completed", make_batch("b", "completed", completed=10))
        ids = [await notifier.send(notice) for _ in range(DesktopNotifier.SENT_KEPT + 5)]
        assert all(ids)
        assert len(notifier.sent) == DesktopNotifier.SENT_KEPT
        assert notifier.sent[-1] == ids[-1] and notifier.sent[0] == ids[5]
        assert server.received.qsize() == DesktopNotifier.SENT_KEPT + 5
