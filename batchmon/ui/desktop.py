"""The running desktop: list, model, window, tray, poller, push and notifications, wired.

:class:`Desktop` owns the parts a person sees and connects them to the engine once a
store and a client exist (:meth:`Desktop.attach`). It is also the window's
:class:`~batchmon.ui.action_runner.BatchOperations`: the window asks, this object calls
the engine and feeds the answers back into the list. Opening and closing the store,
the client and the demo is the bootstrap's job (:mod:`batchmon.ui.app`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from batchmon.config import Settings
from batchmon.core.results import ResultParser
from batchmon.core.status import APPLICABLE_STATUSES, is_pending, is_terminal
from batchmon.store import Store, StoreError
from batchmon.ui import dialogs
from batchmon.ui.action_runner import RetryPreview
from batchmon.ui.batch_list import BatchList
from batchmon.ui.detail_pane import BatchDetail, group_errors
from batchmon.ui.jobs_reader import JobsReader
from batchmon.ui.jobs_view import headroom_text
from batchmon.ui.main_window import MainWindow
from batchmon.ui.notifications import (
    BannerNotifier,
    Notice,
    NotificationCenter,
    Severity,
    choose_notifier,
)
from batchmon.ui.poller import Poller, PollState
from batchmon.ui.push_follower import PushFollower
from batchmon.ui.settings_dialog import SettingsDialog
from batchmon.ui.table_model import BatchTableModel
from batchmon.ui.tag_flow import UntaggedAssets, tag_untagged
from batchmon.ui.tasks import TaskSet
from batchmon.ui.time_base import TimeBase
from batchmon.ui.tray import Tray

if TYPE_CHECKING:
    # The engine and the API client pull in openai (about a second): they are imported
    # where first used, after the window is shown.
    from batchmon.engine.apply import BatchApplier
    from batchmon.engine.retry import Retrier
    from batchmon.engine.sync import BatchSync, SyncResult
    from batchmon.openai_batches import BatchClient

log = logging.getLogger(__name__)

ERROR_FILE_LINES = 5000
SERVER_RUN_CHECK_MS = 15_000


class Desktop(QObject):
    """The running desktop monitor: list, model, window, poller, push, notifications.

    It is also the window's :class:`~batchmon.ui.action_runner.BatchOperations`: the
    window asks, this object calls the engine and feeds the answers back into the list.
    """

    attached = Signal()
    synced = Signal(object)
    #: A push change has been handled (the list and the notices follow it).
    pushed = Signal(object)
    #: Where notifications now go (the desktop's notification service, or the tray).
    notifier_chosen = Signal(object)
    #: The person chose Quit (tray menu); the composition root shuts down in order.
    quit_requested = Signal()
    #: A job was created from "Tag N untagged assets…": its id.
    job_created = Signal(str)

    def __init__(
        self,
        settings: Settings,
        *,
        demo: bool = False,
        native_notifications: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.demo = demo
        self.batches = BatchList()
        self._clock: Callable[[], float] = time.time
        self.model = BatchTableModel(self.batches, now=lambda: self._clock())
        self.window = MainWindow(self.model, self, demo=demo)
        self.tray = Tray(self.window)
        self.banner_notifier = BannerNotifier(self)
        self.notifications = NotificationCenter(
            self.banner_notifier,
            notify_statuses=self._notify_statuses(settings),
            job_notice_batches=settings.job_notice_batches,
        )
        self.poller = Poller(
            self.sync_pass, interval=settings.poll_interval, limit=settings.poll_limit
        )
        self.store: Store | None = None
        self.client: BatchClient | None = None
        self._sync: BatchSync | None = None
        self._retrier: Retrier | None = None
        self._applier: BatchApplier | None = None
        self._tasks = TaskSet()
        self.push: PushFollower | None = None
        self._native_notifier: object | None = None
        #: Batches a pass is applying (or about to): Retry waits for these.
        self._applying: dict[str, asyncio.Future[None]] = {}
        self._error_groups: dict[str, Any] = {}
        self._jobs: JobsReader | None = None
        self._untagged: UntaggedAssets | None = None
        self._native = native_notifications
        self._server_timer = QTimer(self)
        self._server_timer.setInterval(SERVER_RUN_CHECK_MS)
        self._server_timer.timeout.connect(lambda: self._spawn(self._check_server_runs()))
        self._wire()

    # -- wiring -------------------------------------------------------------------------

    @staticmethod
    def _notify_statuses(settings: Settings) -> set[str]:
        wanted = {
            "completed": settings.notify_completed,
            "failed": settings.notify_failed,
            "expired": settings.notify_expired,
            "cancelled": settings.notify_cancelled,
        }
        return {status for status, on in wanted.items() if on}

    def _wire(self) -> None:
        w = self.window
        w.refresh_requested.connect(self.poller.refresh)
        w.pause_toggled.connect(self.set_paused)
        w.settings_requested.connect(self.open_settings)
        w.tag_requested.connect(lambda: self._spawn(self.tag_untagged()))
        w.summary_changed.connect(self.tray.show_summary)
        self.tray.open_requested.connect(self.show_window)
        self.tray.pause_toggled.connect(self.set_paused)
        self.tray.quit_requested.connect(self.quit_requested)
        w.notifications_paused_toggled.connect(self.set_notifications_paused)
        self.tray.notifications_paused_toggled.connect(self.set_notifications_paused)
        self.notifications.paused_changed.connect(w.set_notifications_paused)
        self.notifications.paused_changed.connect(self.tray.set_notifications_paused)
        w.mute_toggled.connect(self.set_muted)
        self.notifications.muted_changed.connect(w.set_muted)
        w.quit_requested.connect(self.quit_requested)
        self.poller.state_changed.connect(self._show_poll_state)
        w.status.watch_poller(self.poller)
        self.banner_notifier.banner.connect(self._banner_notice)
        self.notifications.open_requested.connect(self.open_batch)
        self.notifications.retry_requested.connect(self.retry_from_notice)
        self._show_poll_state()

    def use_clock(self, now: Callable[[], float], base: TimeBase | None = None) -> None:
        """Read "time in state" and ETAs from ``now`` (the demo's sped-up OpenAI clock);
        ``base`` adds that clock's "stuck?" limits and its way back to wall-clock times."""
        self._clock = now
        base = base or TimeBase(now=now)
        self.model.set_time_base(base)
        self.window.detail.set_time_base(base)

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def retry_from_notice(self, batch_id: str) -> None:
        """A notification's Retry: bring the window up, then ask there as usual."""
        self.show_window()
        self.window.request_retry(batch_id)

    def open_batch(self, batch_id: str) -> None:
        self.show_window()
        self.window.select_batch(batch_id)

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.poller.pause()
        else:
            self.poller.unpause()
        self.window.set_paused(paused)
        self.tray.set_paused(paused)

    def set_notifications_paused(self, paused: bool) -> None:
        """Quiet for an hour (window toolbar or tray); it ends early when unchecked."""
        self.notifications.set_paused(paused)

    def set_muted(self, batch_id: str, muted: bool) -> None:
        if muted:
            self.notifications.mute(batch_id)
        else:
            self.notifications.unmute(batch_id)

    def _show_poll_state(self, *_: object) -> None:
        state = self.poller.state
        status = self.window.status
        if state == PollState.OFFLINE:
            status.set_offline(self.poller.retry_in or 0.0, self.poller.last_error or "")
        else:
            status.set_polling(state.value, self.poller.interval)  # type: ignore[arg-type]

    def _banner_notice(self, notice: Notice) -> None:
        level = {
            Severity.INFO: "success",
            Severity.WARNING: "warning",
            Severity.ERROR: "error",
        }[notice.severity]
        self.window.banner.show_message(
            f"<b>{notice.title}</b> — {notice.body.replace(chr(10), ' · ')}",
            level,  # type: ignore[arg-type]
            action_text="Retry…" if notice.can_retry else "Show",
            action=(
                (lambda: self.window.request_retry(notice.batch_id))
                if notice.can_retry
                else (lambda: self.open_batch(notice.batch_id))
            ),
        )

    def open_settings(self) -> None:
        self._spawn(self.edit_settings())

    async def edit_settings(self) -> None:
        """The settings dialog, awaited (never exec()); saving applies what it can."""
        dialog = SettingsDialog(self.settings, self.window)
        dialog.saved.connect(self.apply_settings)
        try:
            await dialogs.run_dialog(dialog)
        finally:
            dialog.deleteLater()

    def apply_settings(self, settings: Settings) -> None:
        """Apply what can change live; connection changes need a restart (said so)."""
        reconnect = (
            settings.openai_api_key != self.settings.openai_api_key
            or settings.openai_base_url != self.settings.openai_base_url
            or settings.database_mode != self.settings.database_mode
            or settings.database_url != self.settings.database_url
            or settings.supabase_url != self.settings.supabase_url
        )
        self.settings = settings
        self.poller.set_interval(settings.poll_interval)
        self.poller.set_limit(settings.poll_limit)
        self.notifications.set_notify_statuses(self._notify_statuses(settings))
        self.notifications.set_job_notice_batches(settings.job_notice_batches)
        if reconnect:
            self.window.banner.show_message(
                "Settings saved. Restart batchmon to connect with the new account or database.",
                "info",
                timeout_ms=0,
            )
        else:
            self.window.banner.show_message("Settings saved.", "success")

    # -- lifecycle ----------------------------------------------------------------------

    async def attach(self, store: Store, client: BatchClient) -> None:
        """Connect to the data: load rows, start push and polling."""
        from batchmon.engine.apply import BatchApplier
        from batchmon.engine.retry import Retrier
        from batchmon.engine.sync import BatchSync

        self.store = store
        self.client = client
        self._sync = BatchSync(client, store)
        self._retrier = Retrier(client, store)
        self._applier = BatchApplier(client, store)
        self._jobs = JobsReader(store)
        rows = await store.list_batches()
        self.batches.load_rows(rows)
        self.notifications.seed(((row.id, row.status) for row in rows), finish=False)
        await self.refresh_store_views()  # still the silent baseline
        await self.refresh_untagged()
        self.push = PushFollower(
            store, self.batches, self.notifications, self.poller, self.window.status
        )
        self.push.on_handled(lambda change, _announced: self.pushed.emit(change))
        self._spawn(self.push.follow())
        self._spawn(
            self.push.watch_for_gaps(
                lambda: self.poller.interval, lambda: self.poller.state == PollState.POLLING
            )
        )
        self._spawn(self._check_server_runs())
        self._server_timer.start()
        if self._native:
            self._spawn(self._choose_notifier())
        self.poller.start()
        self.attached.emit()

    async def _choose_notifier(self) -> None:
        notifier = await choose_notifier(tray=self.tray.icon, banner=self.banner_notifier)
        if notifier is not self.banner_notifier:
            self.notifications.set_notifier(notifier)
            self._native_notifier = notifier
            log.info("notifications go to %s", getattr(notifier, "name", notifier))
        self.notifier_chosen.emit(notifier)

    async def aclose(self) -> None:
        """Stop background work, then polling; the caller closes store and client.

        Push handling and the window's actions go first: either may resume the poller
        (a new pending batch, a retry), which must not happen once it has stopped.
        """
        self._server_timer.stop()
        await self._tasks.aclose()
        close = getattr(self._native_notifier, "close", None)
        if close is not None:
            close()  # its connection to the notification service (D-Bus)
        await self.window.cancel_actions()
        await self.poller.aclose()
        self.tray.hide()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        return self._tasks.spawn(coro)

    # -- the poll pass ------------------------------------------------------------------

    async def sync_pass(self) -> SyncResult:
        """One engine pass; the list, notifications and apply follow from its result."""
        if self._sync is None or self.client is None or self.store is None:
            raise RuntimeError("not connected yet")
        result = await self._sync.run(extra_ids=self._unfinished_ids())
        self.batches.apply_sync(result)
        self.notifications.handle_sync_result(result)
        # Apply what just finished, and what finished while nobody was watching (the
        # first sight of a batch is a silent baseline, but its assets still wait).
        finished = {
            batch.id: batch
            for batch in result.batches.values()
            if is_terminal(batch.status) and self._waiting_assets(batch.id)
        }
        finished.update((e.batch_id, e.batch) for e in result.events if is_terminal(e.new_status))
        await self._apply_all(finished)
        if finished:
            await self._refresh_rows(finished)
        await self.refresh_store_views()
        self.window.status.set_requests(self.client.requests_made)
        self.synced.emit(result)
        return result

    def _waiting_assets(self, batch_id: str) -> bool:
        item = self.batches.get(batch_id)
        return item is None or item.pending_assets is None or item.pending_assets > 0

    def _unfinished_ids(self) -> list[str]:
        return [item.id for item in self.batches if is_pending(item.status)]

    async def _apply(self, batch: Any) -> None:
        from batchmon.openai_batches import BatchApiError

        assert self._applier is not None
        try:
            await self._applier.apply(batch)
        except BatchApiError as exc:
            log.warning("applying %s failed (the worker will retry): %s", batch.id, exc)

    async def _refresh_rows(self, batch_ids: Any) -> None:
        assert self.store is not None
        rows = [row for i in batch_ids if (row := await self.store.get_batch(i)) is not None]
        self.batches.upsert_rows(rows)

    async def _check_server_runs(self) -> None:
        if self.store is None:
            return
        runs = await self.store.recent_poll_runs(limit=1)
        self.window.status.set_server_run(runs[0] if runs else None, datetime.now(UTC))
        await self.refresh_store_views()
        await self.refresh_untagged()

    def set_untagged_source(self, source: UntaggedAssets | None) -> None:
        """Where untagged assets come from; without one "Tag N untagged…" is not offered."""
        self._untagged = source

    async def refresh_untagged(self) -> None:
        """Offer "Tag N untagged assets…" with the current count."""
        count = await self._untagged.count() if self._untagged is not None else None
        self.window.set_untagged_count(count)

    async def tag_untagged(self) -> str | None:
        """The person chose "Tag N untagged assets…": the plan, then the job on Yes."""
        if self.store is None or self._untagged is None:
            return None
        w = self.window
        try:
            job_id = await tag_untagged(
                w, self.store, self._untagged, w.banner, image_size=self.settings.image_size
            )
        except Exception as exc:
            w.banner.show_error("Tagging could not start", exc)
            return None
        if job_id is not None:
            await self.refresh_jobs()
            await self.refresh_untagged()
            self.job_created.emit(job_id)
        return job_id

    async def refresh_store_views(self) -> None:
        """What the server side records besides batches: results states and jobs."""
        await self.refresh_results()
        await self.refresh_jobs()

    async def refresh_jobs(self) -> None:
        """Jobs with their batches, and each model's queue use against its limit."""
        if self._jobs is None:
            return
        try:
            view = await self._jobs.read()
        except StoreError as exc:
            log.warning("jobs could not be read: %s", exc)
            return
        self.window.jobs.set_jobs(view.jobs, view.batches, datetime.now(UTC))
        self.window.status.set_queue(headroom_text(view.limits))
        self.notifications.observe_jobs(view.jobs)

    async def refresh_results(self) -> None:
        """Read the results states the engine recorded (waiting for queue room, results
        incomplete, batch not found, results expired): the rows, the tray and the
        notices follow them. The worker writes them without a status change, so they
        are read on every pass and with each server-run check rather than pushed."""
        if self.store is None:
            return
        # Only a batch with assets still waiting can gain a state; one that has a state
        # is read until it loses it.
        ids = [
            item.id
            for item in self.batches
            if item.pending_assets != 0 or item.results_state is not None
        ]
        if not ids:
            return
        states = await self.store.results_states(ids)
        self.batches.set_results(states, ids)
        for batch_id, known in states.items():
            self.notifications.observe_results(batch_id, known.state, known.note)

    # -- BatchOperations ----------------------------------------------------------------

    async def load_detail(self, batch_id: str) -> BatchDetail:
        if self.store is None:
            raise RuntimeError("still connecting to the database")
        row = await self.store.get_batch(batch_id)
        if row is None:
            raise LookupError(f"batch {batch_id} is not in the database")
        assets = await self.store.batch_assets(batch_id, limit=1000)
        groups, note = await self._error_file_groups(row.error_file_id)
        return BatchDetail(row, assets, groups, note)

    async def _error_file_groups(self, file_id: str | None) -> tuple[list[Any], str | None]:
        """Error-file lines grouped by code; cached per file (files never change)."""
        if not file_id or self.client is None:
            return [], None
        if file_id in self._error_groups:
            return self._error_groups[file_id], None
        from batchmon.openai_batches import BatchApiError

        parser = ResultParser(None)
        pairs = []
        try:
            line_no = 0
            async for raw in self.client.iter_output_lines(file_id):
                line_no += 1
                outcome = parser.feed(raw, line_no)
                if not outcome.ok:
                    who = outcome.custom_id or f"line {line_no}"
                    pairs.append((outcome.error_code, f"{who}: {outcome.reason}"))
                if line_no >= ERROR_FILE_LINES:
                    break
        except BatchApiError as exc:
            return [], f"The error file could not be read: {exc.message}"
        groups = group_errors(pairs)
        self._error_groups[file_id] = groups
        return groups, None

    async def _apply_all(self, finished: dict[str, Any]) -> None:
        """Apply each finished batch, one after another, marked as being applied.

        The pass announces a finish before applying it, so a person can press Retry
        on that notice while the results are still being written: Retry waits for
        them (:meth:`_until_applied`) instead of failing with "not applied yet".
        """
        loop = asyncio.get_running_loop()
        marks = {batch_id: loop.create_future() for batch_id in finished}
        self._applying.update(marks)
        try:
            for batch_id, batch in finished.items():
                try:
                    await self._apply(batch)
                finally:
                    _settle(self._applying.pop(batch_id, None))
        finally:
            for batch_id in marks:
                _settle(self._applying.pop(batch_id, None))

    async def _until_applied(self, batch_id: str) -> None:
        """Wait for a pass applying ``batch_id``; apply it here if nobody has yet.

        Push can announce a finish (the worker recorded it) before anyone applied it;
        Retry plans from the applied results, so it applies them first (idempotent).
        """
        mark = self._applying.get(batch_id)
        if mark is not None:
            await asyncio.shield(mark)
        assert self.store is not None and self.client is not None
        row = await self.store.get_batch(batch_id)
        if row is None or row.applied_at is not None or not row.pending_assets:
            return
        if row.status in APPLICABLE_STATUSES:
            await self._apply(await self.client.retrieve(batch_id))

    async def retry_preview(self, batch_id: str) -> RetryPreview:
        if self.store is None:
            raise RuntimeError("still connecting to the database")
        from batchmon.engine.retry import plan_retry

        await self._until_applied(batch_id)
        plan = await plan_retry(self.store, batch_id)
        left_out = tuple((a.id, a.error or "failed") for a in plan.left_out)
        return RetryPreview(len(plan.assets), left_out)

    async def retry(self, batch_id: str, *, include_permanent: bool = False) -> str:
        if self._retrier is None:
            raise RuntimeError("still connecting to the database")
        await self._until_applied(batch_id)
        result = await self._retrier.retry(batch_id, include_permanent=include_permanent)
        await self._refresh_rows([batch_id, result.new_batch.id])
        self.batches.upsert_batches([result.new_batch])
        self.poller.resume()
        return result.new_batch.id

    async def cancel(self, batch_id: str) -> str:
        if self.client is None or self.store is None:
            raise RuntimeError("still connecting to the database")
        batch = await self.client.cancel(batch_id)
        await self.store.record_statuses([batch.model_dump(mode="json")])
        self.batches.upsert_batches([batch])
        self.poller.resume()
        return batch.status


def _settle(mark: asyncio.Future[None] | None) -> None:
    if mark is not None and not mark.done():
        mark.set_result(None)
