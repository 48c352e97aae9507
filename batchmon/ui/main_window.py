"""The main window: the batch table, the detail pane, and the actions a person takes.

The window turns clicks into calls on :class:`BatchOperations` and shows what came back;
it does no I/O itself. Every action runs as a task whose failure lands in the banner
(and the log), so nothing a person asked for fails silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Literal, Protocol

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from batchmon.core.status import is_pending
from batchmon.ui.actions import Action, allowed_actions, resubmit_count
from batchmon.ui.batch_list import BatchItem, Column
from batchmon.ui.detail_pane import BatchDetail, DetailPane
from batchmon.ui.filter_proxy import BatchFilterProxy
from batchmon.ui.progress_delegate import ProgressDelegate
from batchmon.ui.resources import app_icon
from batchmon.ui.status_bar import ChannelStatusBar
from batchmon.ui.table_model import BatchRole, BatchTableModel
from batchmon.ui.tray import TraySummary, tray_summary

log = logging.getLogger(__name__)

Level = Literal["info", "success", "warning", "error"]
Confirm = Callable[[str, str], bool]

#: Status filter choices: label -> statuses shown (None: all).
STATUS_FILTERS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("All statuses", None),
    ("Running", frozenset({"validating", "in_progress", "finalizing", "cancelling"})),
    ("Completed", frozenset({"completed"})),
    ("Failed or expired", frozenset({"failed", "expired"})),
    ("Cancelled", frozenset({"cancelled", "cancelling"})),
)


#: Starting widths (px) that fit the usual content; the last column stretches.
COLUMN_WIDTHS: dict[Column, int] = {
    Column.ID: 146,
    Column.STATUS: 106,
    Column.PROGRESS: 120,
    Column.ASSETS: 110,
    Column.MODEL: 92,
    Column.CREATED: 124,
    Column.TIME: 116,
}


DEFAULT_SIZE = QSize(1400, 820)


def _initial_size() -> QSize:
    """Room for every column and the detail pane, but never more than the screen has."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_SIZE
    available = screen.availableGeometry().size()
    return DEFAULT_SIZE.boundedTo(
        QSize(int(available.width() * 0.92), int(available.height() * 0.9))
    )


class BatchOperations(Protocol):
    """What the window asks of the rest of the app (the composition root supplies it)."""

    async def load_detail(self, batch_id: str) -> BatchDetail: ...

    async def retry_count(self, batch_id: str) -> int:
        """How many requests a Retry would resubmit; raises with a reason if it cannot."""
        ...

    async def retry(self, batch_id: str) -> str:
        """Resubmit what failed; returns the new batch's id."""
        ...

    async def cancel(self, batch_id: str) -> str:
        """Ask OpenAI to cancel; returns the status it reported."""
        ...


def ask_person(parent: QWidget, title: str, question: str) -> bool:
    """The default confirmation: a modal Yes/No question over ``parent``."""
    answer = QMessageBox.question(
        parent,
        title,
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


class Banner(QFrame):
    """A one-line message across the top of the window, with an optional action."""

    _STYLES: ClassVar[dict[str, tuple[str, str]]] = {
        "info": ("#EFF6FF", "#1E3A8A"),
        "success": ("#F0FDF4", "#14532D"),
        "warning": ("#FFFBEB", "#78350F"),
        "error": ("#FEF2F2", "#7F1D1D"),
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QToolButton()
        self.action_button.hide()
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self.level: Level = "info"
        self._action: Callable[[], object] | None = None
        self.action_button.clicked.connect(self._run_action)
        self._auto_hide = QTimer(self)
        self._auto_hide.setSingleShot(True)
        self._auto_hide.timeout.connect(self.hide)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(
        self,
        text: str,
        level: Level = "info",
        *,
        action_text: str | None = None,
        action: Callable[[], object] | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        """Show ``text``; info and success messages go away by themselves after a while."""
        background, foreground = self._STYLES[level]
        self.level = level
        self.setStyleSheet(
            f"Banner {{ background: {background}; border-bottom: 1px solid {foreground}33; }}"
            f"QLabel {{ color: {foreground}; }}"
        )
        self.label.setText(text)
        self._action = action
        self.action_button.setVisible(bool(action_text and action))
        self.action_button.setText(action_text or "")
        self.show()
        if timeout_ms is None:
            timeout_ms = 8000 if level in ("info", "success") else 0
        if timeout_ms:
            self._auto_hide.start(timeout_ms)
        else:
            self._auto_hide.stop()

    def _run_action(self) -> None:
        action = self._action
        self.hide()
        if action is not None:
            action()


class MainWindow(QMainWindow):
    """The batch table with its toolbar, detail pane, banner and channel status bar."""

    refresh_requested = Signal()
    pause_toggled = Signal(bool)
    settings_requested = Signal()
    #: ``(action, batch_id, outcome)``: outcome is the result or the exception raised.
    action_finished = Signal(str, str, object)
    #: The detail pane now shows this batch.
    detail_shown = Signal(str)
    summary_changed = Signal(object)

    def __init__(
        self,
        model: BatchTableModel,
        operations: BatchOperations,
        *,
        demo: bool = False,
        confirm: Confirm | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.operations = operations
        self.demo = demo
        self.confirm: Confirm = confirm or (lambda title, text: ask_person(self, title, text))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy: set[str] = set()
        self._detail_generation = 0
        self.setWindowTitle("Demo — batchmon" if demo else "batchmon")
        self.setWindowIcon(app_icon())
        self.resize(_initial_size())

        self.proxy = BatchFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.table = self._build_table()
        self.detail = DetailPane()
        self.detail.setMinimumWidth(340)
        self.detail.retry_requested.connect(self.request_retry)
        self.detail.cancel_requested.connect(self.request_cancel)
        self.detail.batch_link_activated.connect(self.select_batch)
        self.banner = Banner()
        self.status = ChannelStatusBar(self)
        self.setStatusBar(self.status)
        self._build_toolbar()

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)  # a wider window widens the table
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([self.width() - 400, 400])
        splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        # Coalesce bursts of row changes into one summary/detail refresh.
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(250)
        self._summary_timer.timeout.connect(self._refresh_summary)
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(300)
        self._detail_timer.timeout.connect(self.reload_detail)
        # The time column only moves while something runs: tick only then.
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(model.refresh_time_column)
        model.rowsInserted.connect(self._rows_changed)
        model.rowsRemoved.connect(self._rows_changed)
        model.dataChanged.connect(self._data_changed)
        self.summary = TraySummary("idle", 0, "batchmon")
        self._refresh_summary()

    # -- construction -------------------------------------------------------------------

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(int(Column.CREATED), Qt.SortOrder.DescendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(28)
        # Ids are long and alike at the start: keep both ends ("batch_3a48…c4360").
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)  # the cost column takes what is left
        header.setMinimumSectionSize(60)
        table.setItemDelegateForColumn(int(Column.PROGRESS), ProgressDelegate(table))
        for column, width in COLUMN_WIDTHS.items():
            table.setColumnWidth(int(column), width)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        return table

    def _build_toolbar(self) -> None:
        bar = QToolBar("Actions")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setToolTip("Check every pending batch now (F5)")
        self.refresh_action.triggered.connect(self.refresh_requested)
        self.pause_action = QAction("Pause polling", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Stop asking OpenAI; push updates keep arriving")
        self.pause_action.toggled.connect(self.pause_toggled)
        self.retry_all_action = QAction("Retry all failed", self)
        self.retry_all_action.setToolTip("Resubmit the failed requests of every failed batch")
        self.retry_all_action.triggered.connect(self.request_retry_all)
        self.settings_action = QAction("Settings…", self)
        self.settings_action.triggered.connect(self.settings_requested)
        bar.addAction(self.refresh_action)
        bar.addAction(self.pause_action)
        bar.addAction(self.retry_all_action)
        bar.addSeparator()
        self.status_filter = QComboBox()
        for label, _ in STATUS_FILTERS:
            self.status_filter.addItem(label)
        self.status_filter.currentIndexChanged.connect(
            lambda i: self.proxy.set_statuses(STATUS_FILTERS[i][1])
        )
        bar.addWidget(self.status_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search batch id, model, status…")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(280)
        self.search.textChanged.connect(self.proxy.set_search_text)
        bar.addWidget(self.search)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        if self.demo:
            badge = QLabel("DEMO  ·  simulated OpenAI, local database")
            badge.setStyleSheet(
                "QLabel { background: #EDE9FE; color: #5B21B6; border-radius: 9px;"
                " padding: 2px 10px; font-weight: 600; }"
            )
            bar.addWidget(badge)
        bar.addAction(self.settings_action)

    # -- selection and detail -----------------------------------------------------------

    def selected_item(self) -> BatchItem | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = rows[0].data(BatchRole)
        return item if isinstance(item, BatchItem) else None

    def select_batch(self, batch_id: str) -> bool:
        """Select (and scroll to) ``batch_id``; False when it is hidden or unknown."""
        source = self.model.index_of(batch_id)
        index = self.proxy.mapFromSource(source)
        if not index.isValid():
            self.banner.show_message(f"Batch {batch_id} is not in the current view.", "info")
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        self.reload_detail()

    def reload_detail(self) -> None:
        """Load the selected batch's detail (stale answers are dropped)."""
        item = self.selected_item()
        self._detail_generation += 1
        if item is None:
            self.detail.clear()
            return
        generation = self._detail_generation
        self._spawn("detail", item.id, self._load_detail(item.id, generation), report_errors=False)

    async def _load_detail(self, batch_id: str, generation: int) -> None:
        try:
            detail = await self.operations.load_detail(batch_id)
        except Exception as exc:
            log.warning("could not load batch %s: %s", batch_id, exc)
            if generation == self._detail_generation:
                self.banner.show_message(f"Could not load batch {batch_id}: {exc}", "warning")
            raise
        if generation != self._detail_generation:
            return
        item = self.model.batch_list.get(batch_id)
        actions = self._actions_for(item) if item else frozenset()
        self.detail.show_detail(
            detail,
            can_retry=Action.RETRY in actions,
            can_cancel=Action.CANCEL in actions,
        )
        self.detail.set_busy(batch_id in self._busy)
        self.detail_shown.emit(batch_id)

    @staticmethod
    def _actions_for(item: BatchItem) -> frozenset[Action]:
        return allowed_actions(item.status, item.batch.request_counts, retried_by=item.retried_by)

    # -- model change bookkeeping --------------------------------------------------------

    def _rows_changed(self, *_: object) -> None:
        self._summary_timer.start()

    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_: object) -> None:
        if top_left.column() == bottom_right.column() == int(Column.TIME):
            return  # the clock moved; nothing about the batches did
        self._summary_timer.start()
        selected = self.detail.batch_id
        if selected is None:
            return
        row = self.model.batch_list.row_of(selected)
        if row is not None and top_left.row() <= row <= bottom_right.row():
            self._detail_timer.start()

    def _refresh_summary(self) -> None:
        items = list(self.model.batch_list)
        summary = tray_summary(items, demo=self.demo)
        running = any(is_pending(item.status) for item in items)
        if running and not self._clock.isActive():
            self._clock.start()
        elif not running:
            self._clock.stop()
        retryable = any(Action.RETRY in self._actions_for(item) for item in items)
        self.retry_all_action.setEnabled(retryable)
        if summary != self.summary:
            self.summary = summary
            self.summary_changed.emit(summary)

    @property
    def clock_running(self) -> bool:
        return self._clock.isActive()

    # -- actions ------------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        item = index.data(BatchRole)
        if not isinstance(item, BatchItem):
            return
        self.table.selectRow(index.row())
        menu = self.build_context_menu(item)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def build_context_menu(self, item: BatchItem) -> QMenu:
        """The row menu: the actions this batch's state allows (plus copying its id)."""
        menu = QMenu(self)
        actions = self._actions_for(item)
        busy = item.id in self._busy
        retry = menu.addAction("Retry failed requests…")
        retry.setEnabled(Action.RETRY in actions and not busy)
        retry.triggered.connect(lambda: self.request_retry(item.id))
        cancel = menu.addAction("Cancel batch…")
        cancel.setEnabled(Action.CANCEL in actions and not busy)
        cancel.triggered.connect(lambda: self.request_cancel(item.id))
        menu.addSeparator()
        copy = menu.addAction("Copy batch ID")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(item.id))
        if item.retried_by:
            menu.addAction(f"Go to retry {item.retried_by}").triggered.connect(
                lambda: self.select_batch(item.retried_by or "")
            )
        if item.retry_of:
            menu.addAction(f"Go to original {item.retry_of}").triggered.connect(
                lambda: self.select_batch(item.retry_of or "")
            )
        return menu

    def request_retry(self, batch_id: str) -> None:
        """Confirm how many requests go again, then resubmit them as one new batch."""
        if batch_id in self._busy:
            return
        self._spawn("retry", batch_id, self._retry(batch_id))

    async def _retry(self, batch_id: str) -> str | None:
        count = await self.operations.retry_count(batch_id)
        noun = "request" if count == 1 else "requests"
        if not self.confirm(
            "Retry batch",
            f"Resubmit {count} {noun} from {batch_id} as a new batch?\n\n"
            "Only what did not succeed goes again; finished assets keep their tags.",
        ):
            return None
        new_id = await self.operations.retry(batch_id)
        self.banner.show_message(
            f"Resubmitted {count} {noun} from {batch_id} as {new_id}.",
            "success",
            action_text="Show",
            action=lambda: self.select_batch(new_id),
        )
        return new_id

    def request_cancel(self, batch_id: str) -> None:
        """Confirm, then ask OpenAI to cancel the batch (finished requests keep results)."""
        if batch_id in self._busy:
            return
        self._spawn("cancel", batch_id, self._cancel(batch_id))

    async def _cancel(self, batch_id: str) -> str | None:
        if not self.confirm(
            "Cancel batch",
            f"Cancel {batch_id}?\n\nRequests that already finished keep their results; "
            "the rest can be retried afterwards.",
        ):
            return None
        status = await self.operations.cancel(batch_id)
        self.banner.show_message(f"Cancelling {batch_id} (now {status}).", "info")
        return status

    def request_retry_all(self) -> None:
        """Retry every batch whose state allows it, after one confirmation."""
        items = [item for item in self.model.batch_list if Action.RETRY in self._actions_for(item)]
        if not items:
            self.banner.show_message("No failed batches to retry.", "info")
            return
        self._spawn("retry_all", "", self._retry_all(items))

    async def _retry_all(self, items: list[BatchItem]) -> list[str] | None:
        total = sum(
            resubmit_count(item.status, item.batch.request_counts, item.asset_count)
            for item in items
        )
        batches = "batch" if len(items) == 1 else "batches"
        if not self.confirm(
            "Retry all failed",
            f"Resubmit about {total} requests from {len(items)} {batches}?",
        ):
            return None
        created: list[str] = []
        problems: list[str] = []
        for item in items:
            self._busy.add(item.id)
            try:
                created.append(await self.operations.retry(item.id))
            except Exception as exc:
                log.warning("retry of %s failed: %s", item.id, exc)
                problems.append(f"{item.id}: {exc}")
            finally:
                self._busy.discard(item.id)
        if problems:
            self.banner.show_message(
                f"Retried {len(created)} of {len(items)} {batches}. Failed: "
                + "; ".join(problems[:3]),
                "warning",
            )
        else:
            self.banner.show_message(f"Retried {len(created)} {batches}.", "success")
        return created

    # -- task plumbing ------------------------------------------------------------------

    def _spawn(
        self,
        action: str,
        batch_id: str,
        coro: Coroutine[Any, Any, Any],
        *,
        report_errors: bool = True,
    ) -> asyncio.Task[Any]:
        """Run ``coro`` on the loop, keep it alive, and report how it ended."""
        if action in ("retry", "cancel"):
            self._busy.add(batch_id)
            if self.detail.batch_id == batch_id:
                self.detail.set_busy(True)
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if action in ("retry", "cancel"):
                self._busy.discard(batch_id)
                if self.detail.batch_id == batch_id:
                    self.detail.set_busy(False)
                    self._detail_timer.start()
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                if report_errors:
                    self.show_error(f"{action.replace('_', ' ').capitalize()} failed", exc)
                self.action_finished.emit(action, batch_id, exc)
            else:
                self.action_finished.emit(action, batch_id, t.result())

        task.add_done_callback(done)
        return task

    def show_error(self, what: str, exc: BaseException) -> None:
        """Show an error to the person (banner) and log it; the hint, when there is one."""
        hint = getattr(exc, "hint", None)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        text = f"{what}: {message}"
        if hint and hint not in text:
            text += f" — {hint}"
        log.error("%s", text, exc_info=(type(exc), exc, exc.__traceback__))
        self.banner.show_message(text, "error")

    @property
    def pending_tasks(self) -> int:
        return len(self._tasks)

    def set_paused(self, paused: bool) -> None:
        """Mirror the poller's pause state in the toolbar without re-emitting it."""
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)

    async def cancel_actions(self) -> None:
        """Cancel running actions and detail loads, and wait until they have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def closeEvent(self, event: QCloseEvent) -> None:
        for task in list(self._tasks):
            task.cancel()
        super().closeEvent(event)
