"""One message per batch transition, whichever channel saw it first.

Poll passes (core ``BatchEvent``s) and the store's push feed (``Change``) both report
transitions. :class:`NotificationCenter` keys each by ``(batch_id, new_status)`` and
shows a key once; what it saw before start-up finished is a silent baseline; a muted
batch or a pause ("quiet for an hour") still counts a key as seen, so nothing old
pops up later. Showing is delegated to a :class:`Notifier`, chosen by
:func:`choose_notifier` in the order

1. :class:`DesktopNotifier`: native notifications through ``desktop-notifier``
   (freedesktop D-Bus on Linux, the OS's own on macOS and Windows) with a Retry button
   on failures and a click that opens the batch;
2. :class:`TrayNotifier`: ``QSystemTrayIcon.showMessage`` where a tray exists;
3. :class:`BannerNotifier`: a signal the main window turns into an in-window banner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from batchmon.core.diff import BatchEvent
from batchmon.core.metadata import JOB_KEY
from batchmon.core.status import TERMINAL_STATUSES, outcome
from batchmon.store.job_rows import JobSummary
from batchmon.store.protocol import Change
from batchmon.ui.actions import Action, allowed_actions
from batchmon.ui.jobs_view import DEFAULT_JOB_NOTICE_BATCHES, job_batch_count, job_notice
from batchmon.ui.resources import notification_icon_path
from batchmon.ui.results_view import LABELS, NOTIFY_STATES, allows_retry, sentence
from batchmon.ui.tasks import TaskSet

log = logging.getLogger(__name__)

Key = tuple[str, str]
OpenHandler = Callable[[str], None]
RetryHandler = Callable[[str], None]

DEFAULT_PAUSE = 3600.0


class Severity(StrEnum):
    """How loud a notice is: maps to urgency, tray icon and banner colour."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message about one batch transition, ready for any notifier."""

    batch_id: str
    status: str
    title: str
    body: str
    severity: Severity
    can_retry: bool

    @property
    def key(self) -> Key:
        """``(batch_id, status)``: the transition this notice announces."""
        return (self.batch_id, self.status)


def rejected_text(batch: Any) -> str:
    """Why validation failed, in OpenAI's error codes rather than any server's sentences.

    The title already says "Batch failed"; the body says what to look at.
    """
    errors = batch.errors.data if getattr(batch, "errors", None) and batch.errors.data else []
    if not errors:
        return "The input file was rejected; no request ran."
    codes = sorted({error.code or "invalid_request" for error in errors})
    count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
    return f"The input file was rejected ({count}: {', '.join(codes)}); no request ran."


def make_notice(batch_id: str, status: str, batch: Any | None = None) -> Notice:
    """Word a transition for a person; with the ``Batch`` it says how it went.

    A ``completed`` batch where some requests failed is a warning with Retry, one
    where all failed is an error: the person cares about the tags, not the status.
    """
    title = f"Batch {status}"
    severity = {
        "completed": Severity.INFO,
        "failed": Severity.ERROR,
        "expired": Severity.WARNING,
        "cancelled": Severity.WARNING,
    }.get(status, Severity.INFO)
    counts = getattr(batch, "request_counts", None)
    if batch is not None and status == "failed":
        body = f"{rejected_text(batch)}\n{batch_id}"
    elif batch is not None:
        result = outcome(batch)
        body = f"{result.text}\n{batch_id}"
        if result.kind == "partial":
            title, severity = "Batch completed with failures", Severity.WARNING
        elif result.kind == "failed" and status == "completed":
            title, severity = "Batch completed: every request failed", Severity.ERROR
    else:
        body = batch_id
    can_retry = Action.RETRY in allowed_actions(status, counts)
    return Notice(batch_id, status, title, body, severity, can_retry)


def results_notice(batch_id: str, state: str, note: str | None) -> Notice:
    """Word a results state: a warning, with Retry where only a retry can help."""
    body = f"{sentence(note or LABELS.get(state, state))}\n{batch_id}"
    title = LABELS.get(state, state)
    return Notice(batch_id, state, title, body, Severity.WARNING, allows_retry(state))


class Notifier(Protocol):
    """Something that can put a :class:`Notice` in front of a person."""

    name: str

    def set_handlers(self, open_batch: OpenHandler, retry_batch: RetryHandler) -> None:
        """Where clicks ("open the batch") and Retry presses go."""
        ...

    def show(self, notice: Notice) -> None:
        """Show the notice now (never blocks; failures are logged, not raised)."""
        ...


def _ignore(batch_id: str) -> None:
    """Default handler until a center sets real ones."""


class BannerNotifier(QObject):
    """The fallback that always works: emits ``banner(Notice)`` for the main window.

    The banner widget calls :meth:`open` / :meth:`retry` from its buttons.
    """

    banner = Signal(object)
    name = "banner"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open: OpenHandler = _ignore
        self._retry: RetryHandler = _ignore

    def set_handlers(self, open_batch: OpenHandler, retry_batch: RetryHandler) -> None:
        self._open, self._retry = open_batch, retry_batch

    def show(self, notice: Notice) -> None:
        self.banner.emit(notice)

    def open(self, batch_id: str) -> None:
        """The banner was clicked."""
        self._open(batch_id)

    def retry(self, batch_id: str) -> None:
        """The banner's Retry button was pressed."""
        self._retry(batch_id)


class TrayNotifier(QObject):
    """Balloon messages from the tray icon; a click opens the batch last announced.

    Tray balloons have no action buttons, so Retry lives in the window it opens.
    """

    name = "tray"

    _ICONS: ClassVar[dict[Severity, QSystemTrayIcon.MessageIcon]] = {
        Severity.INFO: QSystemTrayIcon.MessageIcon.Information,
        Severity.WARNING: QSystemTrayIcon.MessageIcon.Warning,
        Severity.ERROR: QSystemTrayIcon.MessageIcon.Critical,
    }

    def __init__(
        self, tray: QSystemTrayIcon, *, timeout_ms: int = 10_000, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._tray = tray
        self._timeout_ms = timeout_ms
        self._last_batch: str | None = None
        self._open: OpenHandler = _ignore
        tray.messageClicked.connect(self._clicked)

    @staticmethod
    def available(tray: QSystemTrayIcon | None) -> bool:
        """A tray host is running and can show messages."""
        return (
            tray is not None
            and QSystemTrayIcon.isSystemTrayAvailable()
            and QSystemTrayIcon.supportsMessages()
        )

    @property
    def last_batch(self) -> str | None:
        """The batch a click on the balloon opens."""
        return self._last_batch

    def set_handlers(self, open_batch: OpenHandler, retry_batch: RetryHandler) -> None:
        self._open = open_batch

    def show(self, notice: Notice) -> None:
        self._last_batch = notice.batch_id
        self._tray.showMessage(
            notice.title, notice.body, self._ICONS[notice.severity], self._timeout_ms
        )

    def _clicked(self) -> None:
        if self._last_batch is not None:
            self._open(self._last_batch)


class DesktopNotifier:
    """Native notifications via ``desktop-notifier``'s async API on the running loop.

    Failures get a "Retry" button (the person's fastest path to a fix); clicking the
    notification opens the batch. Sends run as tasks whose references are kept until
    they finish, and never raise into the caller.
    """

    name = "desktop"
    RETRY_BUTTON = "Retry"
    SENT_KEPT = 100

    def __init__(self, notifier: Any | None = None, *, app_name: str = "batchmon") -> None:
        from desktop_notifier import Icon

        self._icon = Icon(path=notification_icon_path())
        if notifier is None:
            from desktop_notifier import DesktopNotifier as _Library

            notifier = _Library(app_name=app_name, app_icon=self._icon)
        self._notifier = notifier
        self._open: OpenHandler = _ignore
        self._retry: RetryHandler = _ignore
        self._tasks = TaskSet()
        self.sent: deque[str] = deque(maxlen=self.SENT_KEPT)
        """Identifiers of the latest notifications handed to the notification service
        (bounded: a window left open for weeks must not grow)."""

    @property
    def library(self) -> Any:
        """The ``desktop_notifier.DesktopNotifier`` behind this notifier."""
        return self._notifier

    async def available(self, probe_timeout: float = 2.0) -> bool:
        """True when a notification service answers (asks it for its capabilities).

        False on platforms ``desktop-notifier`` cannot serve (its dummy backend) and
        where no service runs (no D-Bus session, or no notification daemon on it).
        """
        backend = getattr(self._notifier, "_backend", None)
        if type(backend).__name__ == "DummyNotificationCenter":
            return False
        try:
            await asyncio.wait_for(self._notifier.get_capabilities(), probe_timeout)
        except Exception as exc:  # no bus, no service, timeout: all mean "not here"
            log.info("desktop notifications unavailable: %s", exc)
            return False
        return True

    def set_handlers(self, open_batch: OpenHandler, retry_batch: RetryHandler) -> None:
        self._open, self._retry = open_batch, retry_batch

    def show(self, notice: Notice) -> None:
        self._tasks.spawn(self.send(notice))

    async def send(self, notice: Notice) -> str | None:
        """Send one notice; returns its identifier, or None when sending failed."""
        from desktop_notifier import Button, Notification, Urgency

        batch_id = notice.batch_id
        buttons: tuple[Any, ...] = ()
        if notice.can_retry:
            buttons = (Button(title=self.RETRY_BUTTON, on_pressed=lambda: self._retry(batch_id)),)
        urgency = {
            Severity.INFO: Urgency.Normal,
            Severity.WARNING: Urgency.Normal,
            Severity.ERROR: Urgency.Critical,
        }[notice.severity]
        notification = Notification(
            title=notice.title,
            message=notice.body,
            urgency=urgency,
            buttons=buttons,
            on_clicked=lambda: self._open(batch_id),
            icon=self._icon,
        )
        try:
            identifier = await self._notifier.send_notification(notification)
        except Exception:
            log.warning("could not send a desktop notification", exc_info=True)
            return None
        self.sent.append(str(identifier))
        return str(identifier)

    async def drain(self) -> None:
        """Wait for notifications still being sent (tests, shutdown)."""
        await self._tasks.join()

    def close(self) -> None:
        """Drop the connection to the notification service (D-Bus on Linux), if one is open.

        Buttons of notifications still on screen stop working afterwards.
        """
        bus = getattr(getattr(self._notifier, "_backend", None), "bus", None)
        if bus is not None:
            bus.disconnect()


async def choose_notifier(
    *,
    tray: QSystemTrayIcon | None = None,
    desktop: DesktopNotifier | None = None,
    banner: BannerNotifier | None = None,
    order: Sequence[str] = ("desktop", "tray", "banner"),
    probe_timeout: float = 2.0,
) -> Notifier:
    """The first available notifier in ``order`` (the banner is always available).

    ``desktop`` defaults to a new :class:`DesktopNotifier`; pass ``order`` without
    ``"desktop"`` to turn native notifications off.
    """
    for name in order:
        if name == "desktop":
            candidate = desktop or DesktopNotifier()
            if await candidate.available(probe_timeout):
                return candidate
        elif name == "tray":
            if tray is not None and TrayNotifier.available(tray):
                return TrayNotifier(tray)
        elif name == "banner":
            break
        else:
            raise ValueError(f"unknown notifier {name!r}; use desktop, tray or banner")
    return banner or BannerNotifier()


class NotificationCenter(QObject):
    """Decides *whether* to notify; the :class:`Notifier` decides *how*.

    - Dedupe: each ``(batch_id, status)`` is shown at most once, across poll and push.
    - Baseline: until :meth:`finish_baseline` (or the first :meth:`handle_sync_result`,
      or :meth:`seed` with ``finish=True``) everything is recorded silently.
    - Mute a batch (:meth:`mute`); pause everything for an hour (:meth:`pause`).
      Suppressed transitions are still recorded, so they never pop up later.
    - Only transitions into ``notify_statuses`` (default: every terminal status) notify.

    Signals: ``notified(Notice)`` after a notice was handed to the notifier,
    ``open_requested(str)`` / ``retry_requested(str)`` when a person clicked a notice or
    its Retry button, ``paused_changed(bool)``, ``muted_changed(str, bool)``.
    """

    notified = Signal(object)
    open_requested = Signal(str)
    retry_requested = Signal(str)
    paused_changed = Signal(bool)
    muted_changed = Signal(str, bool)

    def __init__(
        self,
        notifier: Notifier | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        notify_statuses: Iterable[str] = TERMINAL_STATUSES,
        job_notice_batches: int = DEFAULT_JOB_NOTICE_BATCHES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._now = now
        self._seen: set[Key] = set()
        self._muted: set[str] = set()
        self._paused_until: float | None = None
        self._in_baseline = True
        self._notify_statuses = frozenset(notify_statuses)
        self._job_sizes: dict[str, int] = {}
        self._job_notice_batches = job_notice_batches
        self._pause_timer = QTimer(self)
        self._pause_timer.setSingleShot(True)
        self._pause_timer.timeout.connect(self.expire_pause)
        self._notifier: Notifier = notifier or BannerNotifier(self)
        self._notifier.set_handlers(self.open_requested.emit, self.retry_requested.emit)

    # -- configuration ------------------------------------------------------------

    @property
    def notifier(self) -> Notifier:
        """Where notices go."""
        return self._notifier

    def set_notifier(self, notifier: Notifier) -> None:
        """Switch notifiers (e.g. once :func:`choose_notifier` has probed the desktop)."""
        self._notifier = notifier
        notifier.set_handlers(self.open_requested.emit, self.retry_requested.emit)

    @property
    def notify_statuses(self) -> frozenset[str]:
        """Statuses whose arrival is announced."""
        return self._notify_statuses

    def set_notify_statuses(self, statuses: Iterable[str]) -> None:
        """Announce only transitions into these statuses (the settings' checkboxes)."""
        self._notify_statuses = frozenset(statuses)

    # -- baseline -------------------------------------------------------------------

    @property
    def in_baseline(self) -> bool:
        """True until start-up's first complete observation has been recorded."""
        return self._in_baseline

    def seed(self, observations: Iterable[tuple[str, str]], *, finish: bool = True) -> None:
        """Record ``(batch_id, status)`` pairs as already known (e.g. the store's rows).

        With ``finish`` (the default) the baseline ends: a complete snapshot is a
        baseline, and later transitions are news.
        """
        self._seen.update(observations)
        if finish:
            self.finish_baseline()

    def finish_baseline(self) -> None:
        """From now on, new transitions notify."""
        self._in_baseline = False

    # -- observations ---------------------------------------------------------------

    def has_seen(self, batch_id: str, status: str) -> bool:
        """Whether this transition was already recorded (shown or suppressed)."""
        return (batch_id, status) in self._seen

    def observe(self, batch_id: str, status: str, batch: Any | None = None) -> Notice | None:
        """One observation from any channel; returns the notice if one was shown.

        A batch of a job with more than ``job_notice_batches`` batches is recorded but
        not shown: that job is announced once, when it ends (:meth:`observe_jobs`).
        """
        if not self._is_news(batch_id, status) or status not in self._notify_statuses:
            return None
        if self._in_big_job(batch):
            return None
        return self._show(make_notice(batch_id, status, batch))

    def set_job_notice_batches(self, count: int) -> None:
        """Jobs with more batches than ``count`` are announced per job (the setting)."""
        self._job_notice_batches = count

    def observe_jobs(self, jobs: Iterable[JobSummary]) -> list[Notice]:
        """Jobs as the store reports them: sizes for grouping, a notice when one ends."""
        shown: list[Notice] = []
        for job in jobs:
            self._job_sizes[job.id] = job_batch_count(job)
            if job.status == "running" or not self._is_big(job.id):
                continue
            if not self._is_news(job.id, f"job {job.status}"):
                continue
            title, body = job_notice(job)
            severity = Severity.WARNING if job.failed else Severity.INFO
            notice = self._show(Notice(job.id, f"job {job.status}", title, body, severity, False))
            if notice is not None:
                shown.append(notice)
        return shown

    def _is_big(self, job_id: str) -> bool:
        return self._job_sizes.get(job_id, 0) > self._job_notice_batches

    def _in_big_job(self, batch: Any | None) -> bool:
        metadata = getattr(batch, "metadata", None) or {}
        job_id = metadata.get(JOB_KEY) if isinstance(metadata, dict) else None
        return isinstance(job_id, str) and self._is_big(job_id)

    def observe_results(self, batch_id: str, state: str, note: str | None) -> Notice | None:
        """A results state the store reports (``Store.results_states``).

        Only "results incomplete" and "batch not found" notify, once per batch and
        state; muting and pausing hold as for statuses.
        """
        if not self._is_news(batch_id, state) or state not in NOTIFY_STATES:
            return None
        return self._show(results_notice(batch_id, state, note))

    def _is_news(self, batch_id: str, key_status: str) -> bool:
        """Records the observation; True when it is new and may be shown now."""
        key = (batch_id, key_status)
        if key in self._seen:
            return False
        self._seen.add(key)
        return not self._in_baseline and batch_id not in self._muted and not self.paused

    def _show(self, notice: Notice) -> Notice | None:
        try:
            self._notifier.show(notice)
        except Exception:
            log.exception("notifier %s failed", getattr(self._notifier, "name", "?"))
            return None
        self.notified.emit(notice)
        return notice

    def handle_events(self, events: Iterable[BatchEvent]) -> list[Notice]:
        """Observe the status transitions among core events (progress events are not)."""
        shown: list[Notice] = []
        for event in events:
            if event.old_status == event.new_status:
                continue
            notice = self.observe(event.batch_id, event.new_status, event.batch)
            if notice is not None:
                shown.append(notice)
        return shown

    def handle_sync_result(self, result: Any) -> list[Notice]:
        """A poll pass (``SyncResult``): its events, then the baseline is complete."""
        shown = self.handle_events(getattr(result, "events", ()))
        self.finish_baseline()
        return shown

    def handle_change(self, change: Change, batch: Any | None = None) -> Notice | None:
        """A push change; only ``batch`` changes that carry a status are transitions."""
        if change.kind != "batch" or not change.batch_id or not change.status:
            return None
        return self.observe(change.batch_id, change.status, batch)

    # -- mute and pause -------------------------------------------------------------

    def mute(self, batch_id: str) -> None:
        """No more notices for this batch."""
        if batch_id not in self._muted:
            self._muted.add(batch_id)
            self.muted_changed.emit(batch_id, True)

    def unmute(self, batch_id: str) -> None:
        """Notices for this batch again (from its next transition)."""
        if batch_id in self._muted:
            self._muted.discard(batch_id)
            self.muted_changed.emit(batch_id, False)

    def is_muted(self, batch_id: str) -> bool:
        """Whether this batch is muted."""
        return batch_id in self._muted

    @property
    def muted(self) -> frozenset[str]:
        """Every muted batch id."""
        return frozenset(self._muted)

    def pause(self, seconds: float = DEFAULT_PAUSE) -> None:
        """Quiet for ``seconds`` (an hour by default); transitions are still recorded."""
        if seconds <= 0:
            raise ValueError(f"pause length must be positive, got {seconds} s")
        was = self._paused_until is not None  # what paused_changed last said
        self._paused_until = self._now() + seconds
        self._pause_timer.start(max(1, round(seconds * 1000)))
        if not was:
            self.paused_changed.emit(True)

    def resume(self) -> None:
        """End a pause early."""
        was = self._paused_until is not None
        self._paused_until = None
        self._pause_timer.stop()
        if was:
            self.paused_changed.emit(False)

    def set_paused(self, paused: bool) -> None:
        """Follow a "pause notifications" check box: checked pauses for the default hour."""
        if paused:
            self.pause()
        else:
            self.resume()

    @property
    def paused(self) -> bool:
        """True while a pause is in force (judged by ``now``); reading changes nothing."""
        return self._paused_until is not None and self._now() < self._paused_until

    @property
    def paused_until(self) -> float | None:
        """``now()`` value at which the pause ends, or None."""
        return self._paused_until if self.paused else None

    def expire_pause(self) -> None:
        """End a pause whose time has come and say so; early (by ``now``), wait on.

        The pause timer calls this; a test with its own clock calls it after moving it.
        """
        if self._paused_until is None:
            return
        remaining = self._paused_until - self._now()
        if remaining > 0:
            self._pause_timer.start(max(1, round(remaining * 1000)))
            return
        self._paused_until = None
        self.paused_changed.emit(False)
