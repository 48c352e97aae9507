"""The health of each channel that keeps the window true, always in view.

A monitor that silently stopped monitoring is worse than none: the person must see at a
glance whether polling runs, whether push is connected, whether the server-side poller
is alive, and what the polling has cost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from batchmon.core.formatting import format_duration
from batchmon.store.protocol import PollRun

PollState = Literal["polling", "paused", "idle", "limit", "offline", "stopped"]
PushState = Literal["connected", "reconnecting", "off"]

_OK = "#16A34A"
_WARN = "#D97706"
_BAD = "#DC2626"
_OFF = "#94A3B8"


def _dot(colour: str, text: str) -> str:
    return f'<span style="color:{colour}">&#9679;</span>&nbsp;{text}'


def server_run_health(
    run: PollRun | None, now: datetime, interval: timedelta = timedelta(minutes=1)
) -> tuple[bool | None, str]:
    """``(healthy, text)`` for the latest server poll run; None when there is no run."""
    if run is None:
        return None, "Server poller: no runs recorded"
    last = run.finished_at or run.started_at
    age = (now - last).total_seconds()
    when = f"{format_duration(age)} ago"
    if run.error:
        return False, f"Server poller: last run {when} failed"
    if age > 3 * interval.total_seconds():
        return False, f"Server poller: last run {when} (late)"
    if run.applied:
        return True, f"Server poller: ran {when}, applied {run.applied}"
    return True, f"Server poller: ran {when}, nothing new to apply"


class ChannelStatusBar(QStatusBar):
    """Polling, push, server poller and request count as permanent labels.

    The one-second timer that counts down "retrying in N s" runs only while offline, so
    an idle window wakes up for nothing.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.poll_label = QLabel()
        self.push_label = QLabel()
        self.server_label = QLabel()
        self.requests_label = QLabel()
        for label in (self.poll_label, self.push_label, self.server_label, self.requests_label):
            self.addPermanentWidget(label)
        self._retry_at: datetime | None = None
        self._offline_reason = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._render_offline)
        self.set_polling("idle")
        self.set_push("off")
        self.set_server_run(None)
        self.set_requests(0)

    @property
    def countdown_active(self) -> bool:
        return self._countdown.isActive()

    def set_polling(self, state: PollState, interval: float = 2.0) -> None:
        """Show the poller's state; ``offline`` is set through :meth:`set_offline`."""
        self._countdown.stop()
        self._retry_at = None
        text = {
            "polling": _dot(_OK, f"Polling every {interval:g} s"),
            "paused": _dot(_WARN, "Polling paused"),
            "idle": _dot(_OFF, "Polling idle: nothing pending"),
            "limit": _dot(_WARN, "Polling stopped after the time limit: click Refresh"),
            "offline": _dot(_BAD, "Offline"),
            "stopped": _dot(_OFF, "Polling stopped"),
        }[state]
        self.poll_label.setText(text)
        self.poll_label.setToolTip("")

    def set_offline(self, retry_in: float, reason: str = "") -> None:
        """The last pass failed; the next try is in ``retry_in`` seconds."""
        self._retry_at = datetime.now(UTC) + timedelta(seconds=retry_in)
        self._offline_reason = reason
        self.poll_label.setToolTip(reason)
        self._render_offline()
        self._countdown.start()

    def _render_offline(self) -> None:
        if self._retry_at is None:
            self._countdown.stop()
            return
        left = max(0, round((self._retry_at - datetime.now(UTC)).total_seconds()))
        self.poll_label.setText(_dot(_BAD, f"Offline, retrying in {left} s"))

    def set_push(self, state: PushState, detail: str = "") -> None:
        text = {
            "connected": _dot(_OK, "Push connected"),
            "reconnecting": _dot(_WARN, "Push reconnecting…"),
            "off": _dot(_OFF, "Push off"),
        }[state]
        self.push_label.setText(text)
        self.push_label.setToolTip(detail)

    def set_server_run(
        self,
        run: PollRun | None,
        now: datetime | None = None,
        interval: timedelta = timedelta(minutes=1),
    ) -> None:
        healthy, text = server_run_health(run, now or datetime.now(UTC), interval)
        colour = _OFF if healthy is None else _OK if healthy else _WARN
        self.server_label.setText(_dot(colour, text))
        self.server_label.setToolTip(run.error or "" if run else "")

    def set_requests(self, count: int) -> None:
        self.requests_label.setText(f"{count:,} API requests")
        self.requests_label.setToolTip("HTTP requests this session, SDK retries included")
