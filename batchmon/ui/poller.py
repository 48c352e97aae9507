"""The desktop's poll clock: one sync pass every 2 s while something is pending.

The engine does the work (one ``sync`` coroutine per pass); this module decides *when*:

- a repeating ``QTimer`` (2 s by default) starts a pass on each tick, and a tick that
  finds the previous pass still running is skipped, so passes never overlap;
- a failing pass switches to backoff (2 s doubling to 60 s, :class:`~batchmon.core.backoff.
  Backoff`), shown as "offline, retrying in N s"; the first success returns to the
  normal cadence;
- polling stops when a pass finds nothing pending, or after a limit of continuous
  polling (1 h by default), so an idle or forgotten window costs nothing; it resumes on
  :meth:`Poller.resume` (a push event, a new pending batch), on :meth:`Poller.refresh`
  (the Refresh button), or :meth:`Poller.unpause`.

Time is read from an injected ``now`` callable (monotonic seconds), so tests can cross
the one-hour limit without waiting an hour. Passes run as tasks on the running asyncio
loop (the qasync loop in the app); their references are kept until they finish.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from batchmon.core.backoff import Backoff
from batchmon.core.status import is_terminal
from batchmon.ui.tasks import TaskSet

log = logging.getLogger(__name__)

SyncPass = Callable[[], Awaitable[Any]]


class PollState(StrEnum):
    """Where the poller is; the values match the status bar's vocabulary."""

    STOPPED = "stopped"
    POLLING = "polling"
    OFFLINE = "offline"
    IDLE = "idle"
    LIMIT = "limit"
    PAUSED = "paused"


def has_unfinished_batches(result: Any) -> bool:
    """Default "keep polling?" rule: the pass saw at least one batch that can still change.

    ``result`` is an engine ``SyncResult`` (its ``batches`` a dict of id -> ``Batch``).
    A result without ``batches`` keeps polling, so an unknown result never stalls the
    window by mistake.
    """
    batches = getattr(result, "batches", None)
    if batches is None:
        return True
    values = batches.values() if isinstance(batches, Mapping) else batches
    return any(not is_terminal(batch.status) for batch in values)


def describe_error(exc: BaseException) -> str:
    """One line for a person: the message, plus the error's ``hint`` when it has one."""
    text = str(exc) or type(exc).__name__
    hint = getattr(exc, "hint", None)
    if isinstance(hint, str) and hint and hint not in text:
        text = f"{text} ({hint})"
    return text


class Poller(QObject):
    """Runs ``sync()`` on a timer; see the module docstring for the rules.

    Signals:

    - ``tick_started()``: a pass begins.
    - ``tick_finished(result)``: a pass returned ``result`` (the engine's ``SyncResult``).
    - ``tick_skipped()``: the timer fired while a pass was still running.
    - ``state_changed(str)``: :attr:`state_text` changed, e.g. "offline, retrying in 4 s".
    - ``error(str)``: a pass failed; the text is meant for a person.

    ``keep_polling(result)`` decides after each good pass whether anything is pending
    (default :func:`has_unfinished_batches`).
    """

    tick_started = Signal()
    tick_finished = Signal(object)
    tick_skipped = Signal()
    state_changed = Signal(str)
    error = Signal(str)

    def __init__(
        self,
        sync: SyncPass,
        *,
        interval: float = 2.0,
        limit: float | None = 3600.0,
        backoff: Backoff | None = None,
        now: Callable[[], float] = time.monotonic,
        keep_polling: Callable[[Any], bool] = has_unfinished_batches,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if interval <= 0:
            raise ValueError(f"poll interval must be positive, got {interval} s")
        if limit is not None and limit <= 0:
            raise ValueError(f"continuous-polling limit must be positive or None, got {limit}")
        self._sync = sync
        self._interval = interval
        self._limit = limit
        self._initial_backoff = backoff or Backoff()
        self._backoff = self._initial_backoff.reset()
        self._now = now
        self._keep_polling = keep_polling
        self._state = PollState.STOPPED
        self._paused_by_user = False
        self._shut_down = False
        self._polling_since: float | None = None
        self._retry_at: float | None = None
        self._retry_delay: float | None = None
        self._last_error: str | None = None
        self._tasks = TaskSet()
        self._task: asyncio.Future[Any] | None = None
        self._again = False
        self._passes = 0
        self._skipped = 0

        self._timer = QTimer(self)
        self._timer.setInterval(self._ms(interval))
        self._timer.timeout.connect(self._on_tick)
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.timeout.connect(self._on_retry)

    # -- what the window shows ----------------------------------------------------

    @property
    def state(self) -> PollState:
        """The current :class:`PollState`."""
        return self._state

    @property
    def state_text(self) -> str:
        """The state in words; while offline the countdown is computed from ``now``."""
        state = self._state
        if state == PollState.POLLING:
            return f"polling every {self._interval:g} s"
        if state == PollState.OFFLINE:
            return f"offline, retrying in {math.ceil(self.retry_in or 0.0)} s"
        if state == PollState.IDLE:
            return "idle: nothing pending"
        if state == PollState.LIMIT:
            return f"stopped after {_span(self._limit or 0.0)} of polling: Refresh to resume"
        if state == PollState.PAUSED:
            return "polling paused"
        return "stopped"

    @property
    def interval(self) -> float:
        """Seconds between passes while polling normally."""
        return self._interval

    @property
    def limit(self) -> float | None:
        """Seconds of continuous polling before it stops by itself (None: never)."""
        return self._limit

    @property
    def busy(self) -> bool:
        """True while a pass is running."""
        return self._task is not None and not self._task.done()

    @property
    def timer_active(self) -> bool:
        """True while the regular cadence timer runs."""
        return self._timer.isActive()

    @property
    def retry_in(self) -> float | None:
        """Seconds until the next try while offline (by ``now``), else None."""
        if self._state != PollState.OFFLINE or self._retry_at is None:
            return None
        return max(0.0, self._retry_at - self._now())

    @property
    def retry_delay(self) -> float | None:
        """The backoff delay chosen after the last failure (None when not offline)."""
        return self._retry_delay if self._state == PollState.OFFLINE else None

    @property
    def last_error(self) -> str | None:
        """The last failure's text, until a pass succeeds."""
        return self._last_error

    @property
    def passes(self) -> int:
        """How many passes have started (for tests and the status bar)."""
        return self._passes

    @property
    def skipped_ticks(self) -> int:
        """How many timer ticks were skipped because a pass was still running."""
        return self._skipped

    @property
    def polling_since(self) -> float | None:
        """``now()`` when the current stretch of continuous polling began."""
        return self._polling_since

    # -- controls -----------------------------------------------------------------

    def set_interval(self, seconds: float) -> None:
        """Change the cadence (takes effect from the next tick)."""
        if seconds <= 0:
            raise ValueError(f"poll interval must be positive, got {seconds} s")
        self._interval = seconds
        self._timer.setInterval(self._ms(seconds))
        if self._state == PollState.POLLING:
            self.state_changed.emit(self.state_text)

    def set_limit(self, seconds: float | None) -> None:
        """Change the continuous-polling limit (None: poll for as long as needed)."""
        if seconds is not None and seconds <= 0:
            raise ValueError(f"continuous-polling limit must be positive or None, got {seconds}")
        self._limit = seconds

    def start(self) -> None:
        """Begin (or begin again after :meth:`stop`): a pass now, then every ``interval`` s."""
        self._shut_down = False
        if self._paused_by_user:
            return
        self._begin_polling()
        self._request_pass()

    def resume(self) -> None:
        """Something may be pending again (a push event, a new batch): poll again.

        Wakes the poller from idle or the time limit and restarts the one-hour clock.
        Does nothing while the person has paused polling, while offline (the backoff
        timer is already on it), while polling (the next tick will see it), or after
        :meth:`stop` (a late push event must not restart a poller that was shut down).
        """
        if (
            self._shut_down
            or self._paused_by_user
            or self._state
            not in (
                PollState.IDLE,
                PollState.LIMIT,
                PollState.STOPPED,
            )
        ):
            return
        self._begin_polling()
        self._request_pass()

    def refresh(self) -> None:
        """The Refresh button: run a pass now (after the running one, if any).

        Restarts polling from idle, the time limit or backoff; while paused by the
        person it runs the one pass and stays paused. Does nothing after :meth:`stop`.
        """
        if self._shut_down:
            return
        if not self._paused_by_user:
            self._begin_polling()
        self._request_pass()

    def pause(self) -> None:
        """The person paused polling: stop the timers until :meth:`unpause`."""
        self._paused_by_user = True
        self._stop_timers()
        if not self._shut_down:
            self._set_state(PollState.PAUSED)

    def unpause(self) -> None:
        """Undo :meth:`pause`: poll again, starting with a pass now."""
        if not self._paused_by_user:
            return
        self._paused_by_user = False
        if self._shut_down:
            return
        self._begin_polling()
        self._request_pass()

    @property
    def paused(self) -> bool:
        """True while the person has paused polling."""
        return self._paused_by_user

    def stop(self) -> None:
        """Shut down: stop the timers and cancel a running pass; only :meth:`start` restarts."""
        self._shut_down = True
        self._stop_timers()
        self._again = False
        self._tasks.cancel()
        self._set_state(PollState.STOPPED)

    async def aclose(self) -> None:
        """:meth:`stop`, then wait until a cancelled pass has really ended."""
        self.stop()
        await self._tasks.join()

    # -- internals ----------------------------------------------------------------

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, round(seconds * 1000))

    def _stop_timers(self) -> None:
        self._timer.stop()
        self._retry_timer.stop()
        self._retry_at = None

    def _set_state(self, state: PollState) -> None:
        changed = state != self._state or state == PollState.OFFLINE
        self._state = state
        if changed:
            self.state_changed.emit(self.state_text)

    def _begin_polling(self) -> None:
        """Enter (or stay in) normal cadence and restart the continuous-polling clock."""
        self._retry_timer.stop()
        self._retry_at = None
        self._polling_since = self._now()
        if not self._timer.isActive():
            self._timer.start()
        if self._state != PollState.OFFLINE:
            self._set_state(PollState.POLLING)

    def _limit_reached(self) -> bool:
        if self._limit is None or self._polling_since is None:
            return False
        return self._now() - self._polling_since >= self._limit

    def _on_tick(self) -> None:
        if self.busy:
            self._skipped += 1
            self.tick_skipped.emit()
            return
        if self._limit_reached():
            self._stop_timers()
            self._set_state(PollState.LIMIT)
            return
        self._start_pass()

    def _on_retry(self) -> None:
        if self._limit_reached():
            self._stop_timers()
            self._set_state(PollState.LIMIT)
            return
        self._request_pass()

    def _request_pass(self) -> None:
        if self.busy:
            self._again = True
            return
        self._start_pass()

    def _start_pass(self) -> None:
        self._passes += 1
        self.tick_started.emit()
        self._task = self._tasks.spawn(self._run_pass(), self._pass_done)

    async def _run_pass(self) -> Any:
        return await self._sync()

    def _pass_done(self, task: asyncio.Future[Any]) -> None:
        if task is not self._task:
            return
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed(exc)
        else:
            self._succeeded(task.result())
        if self._again and self._state not in (PollState.STOPPED,):
            self._again = False
            self._start_pass()

    def _failed(self, exc: BaseException) -> None:
        message = describe_error(exc)
        log.warning("sync pass failed: %s", message, exc_info=exc)
        self._last_error = message
        delay = self._backoff.delay
        self._backoff = self._backoff.next()
        self._retry_delay = delay
        if self._state in (PollState.STOPPED, PollState.PAUSED):
            self.error.emit(message)
            return
        self._timer.stop()
        self._retry_at = self._now() + delay
        self._retry_timer.start(self._ms(delay))
        self._set_state(PollState.OFFLINE)
        self.error.emit(message)

    def _succeeded(self, result: Any) -> None:
        self._last_error = None
        self._backoff = self._backoff.reset()
        self._retry_delay = None
        self.tick_finished.emit(result)
        if self._state in (PollState.STOPPED, PollState.PAUSED):
            return
        try:
            keep = self._keep_polling(result)
        except Exception:
            log.exception("keep_polling rule failed; polling on")
            keep = True
        if not keep and not self._again:
            self._stop_timers()
            self._set_state(PollState.IDLE)
            return
        if self._state == PollState.OFFLINE:
            self._retry_timer.stop()
            self._retry_at = None
            self._timer.start()
        if self._state in (PollState.OFFLINE, PollState.IDLE, PollState.LIMIT):
            self._set_state(PollState.POLLING)
            if not self._timer.isActive():
                self._timer.start()


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
