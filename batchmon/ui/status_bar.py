"""The health of each channel that keeps the window true, always in view.

A monitor that silently stopped monitoring is worse than none: the person must see at a
glance whether polling runs, whether push is connected, whether the server-side poller
is alive, and what the polling has cost. Each label says what the channel was last seen
doing, and a one-second check turns it amber or red when the next sign of life is
overdue by more than two of its intervals: a frozen pass must not stay green.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from batchmon.core.formatting import format_duration
from batchmon.store.protocol import PollRun

if TYPE_CHECKING:
    from batchmon.ui.poller import Poller

PollState = Literal["polling", "paused", "idle", "limit", "offline", "stopped"]
PushState = Literal["connected", "reconnecting", "off"]

SERVER_RUN_INTERVAL = timedelta(minutes=1)
"""How often the server-side poller runs (its pg_cron schedule)."""

SERVER_CHECK_INTERVAL = timedelta(seconds=15)
"""How often the desktop reads the server poller's latest run."""

_OK = "#16A34A"
_WARN = "#D97706"
_BAD = "#DC2626"
_OFF = "#94A3B8"


def _dot(colour: str, text: str) -> str:
    return f'<span style="color:{colour}">&#9679;</span>&nbsp;{text}'


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Expectation:
    """The next sign of life a channel owes: due at ``due``, normally every ``interval``."""

    due: datetime
    interval: timedelta

    @classmethod
    def after(cls, last: datetime, interval: timedelta) -> Expectation:
        """The next event of a channel that last showed life at ``last``."""
        return cls(last + interval, interval)

    def stalled(self, now: datetime) -> bool:
        """True once the event is overdue by more than two intervals."""
        return now - self.due > 2 * self.interval


def server_run_health(
    run: PollRun | None, now: datetime, interval: timedelta = SERVER_RUN_INTERVAL
) -> tuple[bool | None, str]:
    """``(healthy, text)`` for the latest server poll run; None when there is no run."""
    if run is None:
        return None, "Server poller: no runs recorded"
    last = run.finished_at or run.started_at
    when = f"{format_duration((now - last).total_seconds())} ago"
    if run.error:
        return False, f"Server poller: last run {when} failed"
    if Expectation.after(last, interval).stalled(now):
        return False, f"Server poller: last run {when} (late)"
    if run.applied:
        return True, f"Server poller: ran {when}, applied {run.applied}"
    return True, f"Server poller: ran {when}, nothing new to apply"


def poll_health(
    state: PollState, interval: float, last_seen: datetime | None, now: datetime
) -> tuple[str, str]:
    """``(colour, text)`` for the poll label while polling: green, or red once stalled.

    ``last_seen`` is when the last pass ended (or polling began): the next pass is due
    one interval later.
    """
    if state == "polling" and last_seen is not None:
        expected = Expectation.after(last_seen, timedelta(seconds=interval))
        if expected.stalled(now):
            quiet = format_duration((now - last_seen).total_seconds())
            return _BAD, f"Polling stalled: no pass for {quiet}"
    return {
        "polling": (_OK, f"Polling every {interval:g} s"),
        "paused": (_WARN, "Polling paused"),
        "idle": (_OFF, "Polling idle: nothing pending"),
        "limit": (_WARN, "Polling stopped after the time limit: click Refresh"),
        "offline": (_BAD, "Offline"),
        "stopped": (_OFF, "Polling stopped"),
    }[state]


class ChannelStatusBar(QStatusBar):
    """Polling, push, server poller and request count as permanent labels.

    ``now`` is the wall clock (injected so tests move it); :meth:`check_health`, run
    every second while a label depends on time, re-renders countdowns and ages and
    flags what is overdue.
    """

    def __init__(
        self, parent: QWidget | None = None, *, now: Callable[[], datetime] = _utc_now
    ) -> None:
        super().__init__(parent)
        self._now = now
        self.poll_label = QLabel()
        self.push_label = QLabel()
        self.server_label = QLabel()
        self.requests_label = QLabel()
        self.queue_label = QLabel()
        self.queue_label.setVisible(False)
        labels = (
            self.queue_label,
            self.poll_label,
            self.push_label,
            self.server_label,
            self.requests_label,
        )
        for label in labels:
            self.addPermanentWidget(label)
        self._poll_state: PollState = "idle"
        self._interval = 2.0
        self._last_pass: datetime | None = None
        self._retry_at: datetime | None = None
        self._retry_interval = timedelta(0)
        self._push_state: PushState = "off"
        self._push_retry: Expectation | None = None
        self._server_run: PollRun | None = None
        self._server_checked: datetime | None = None
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.check_health)
        self.set_polling("idle")
        self.set_push("off")
        self.set_requests(0)
        self._render_server()

    @property
    def ticking(self) -> bool:
        """True while the one-second health check runs."""
        return self._ticker.isActive()

    def watch_poller(self, poller: Poller) -> None:
        """Hear every finished pass (good or failed), so a frozen poller shows as stalled."""
        poller.tick_finished.connect(self.note_pass)
        poller.error.connect(self.note_pass)

    def note_pass(self, *_: object) -> None:
        """A poll pass just ended: the next one is due one interval from now."""
        self._last_pass = self._now()
        self._render_poll()

    def set_polling(self, state: PollState, interval: float = 2.0) -> None:
        """Show the poller's state; ``offline`` is set through :meth:`set_offline`."""
        if state == "polling" and self._poll_state != "polling":
            self._last_pass = self._now()  # polling (re)starts: a pass is due soon
        self._poll_state = state
        self._interval = interval
        self._retry_at = None
        self.poll_label.setToolTip("")
        self._render_poll()

    def set_offline(self, retry_in: float, reason: str = "") -> None:
        """The last pass failed; the next try is in ``retry_in`` seconds."""
        self._poll_state = "offline"
        self._retry_interval = timedelta(seconds=max(retry_in, self._interval))
        self._retry_at = self._now() + timedelta(seconds=retry_in)
        self.poll_label.setToolTip(reason)
        self._render_poll()

    def set_push(self, state: PushState, detail: str = "", retry_in: float | None = None) -> None:
        """Show the push feed; while reconnecting, ``retry_in`` is the next try's delay."""
        self._push_state = state
        self._push_retry = None
        if state == "reconnecting" and retry_in is not None:
            delay = timedelta(seconds=retry_in)
            self._push_retry = Expectation(self._now() + delay, max(delay, timedelta(seconds=1)))
        self.push_label.setToolTip(detail)
        self._render_push()

    def set_server_run(self, run: PollRun | None, checked_at: datetime | None = None) -> None:
        """The server poller's latest run, read from the store at ``checked_at`` (now)."""
        self._server_run = run
        self._server_checked = checked_at or self._now()
        self.server_label.setToolTip(run.error or "" if run else "")
        self._render_server()

    def set_queue(self, text: str) -> None:
        """Each model's queue use against its limit ("gpt-4o-mini: 1.2M / 2M tokens
        queued"); hidden when no model has a known limit."""
        self.queue_label.setText(text)
        self.queue_label.setToolTip(
            "Tokens of in-progress batches against each model's enqueued-token limit"
        )
        self.queue_label.setVisible(bool(text))

    def set_requests(self, count: int) -> None:
        self.requests_label.setText(f"{count:,} API requests")
        self.requests_label.setToolTip("HTTP requests this session, SDK retries included")

    def check_health(self) -> None:
        """Re-render every time-dependent label from ``now`` (the one-second tick)."""
        self._render_poll()
        self._render_push()
        self._render_server()

    # -- rendering ----------------------------------------------------------------

    def _render_poll(self) -> None:
        now = self._now()
        if self._poll_state == "offline" and self._retry_at is not None:
            expected = Expectation(self._retry_at, self._retry_interval)
            if expected.stalled(now):
                quiet = format_duration((now - self._retry_at).total_seconds())
                text = _dot(_BAD, f"Offline, retry overdue by {quiet}")
            else:
                left = max(0, round((self._retry_at - now).total_seconds()))
                text = _dot(_BAD, f"Offline, retrying in {left} s")
        else:
            colour, words = poll_health(self._poll_state, self._interval, self._last_pass, now)
            text = _dot(colour, words)
        self._set_text(self.poll_label, text)
        self._update_ticker()

    def _render_push(self) -> None:
        state = self._push_state
        if state == "reconnecting" and self._push_retry is not None:
            now = self._now()
            if self._push_retry.stalled(now):
                text = _dot(_BAD, "Push stalled: reconnect overdue")
            else:
                left = max(0, round((self._push_retry.due - now).total_seconds()))
                text = _dot(_WARN, f"Push reconnecting in {left} s")
        else:
            text = {
                "connected": _dot(_OK, "Push connected"),
                "reconnecting": _dot(_WARN, "Push reconnecting…"),
                "off": _dot(_OFF, "Push off"),
            }[state]
        self._set_text(self.push_label, text)
        self._update_ticker()

    def _render_server(self) -> None:
        now = self._now()
        healthy, text = server_run_health(self._server_run, now)
        checked = self._server_checked
        if checked is not None and Expectation.after(checked, SERVER_CHECK_INTERVAL).stalled(now):
            healthy = False
            text = (
                f"Server poller: not checked for {format_duration((now - checked).total_seconds())}"
            )
        colour = _OFF if healthy is None else _OK if healthy else _WARN
        self._set_text(self.server_label, _dot(colour, text))
        self._update_ticker()

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:
            label.setText(text)

    def _update_ticker(self) -> None:
        """Tick only while some label depends on time, so an idle window stays asleep."""
        needed = (
            self._poll_state in ("polling", "offline")
            or self._push_retry is not None
            or self._server_checked is not None
        )
        if needed and not self._ticker.isActive():
            self._ticker.start()
        elif not needed and self._ticker.isActive():
            self._ticker.stop()
