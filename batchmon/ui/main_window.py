"""The main window: the batch table, the detail pane, menus, toolbar and shortcuts.

The window turns clicks and keys into calls on its :class:`ActionRunner` (retry,
cancel, with their confirmations) and shows what came back; it does no I/O itself.
Every action runs as a task whose failure lands in the banner (and the log), so nothing
a person asked for fails silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from batchmon.ui.action_runner import ActionRunner, BatchOperations
from batchmon.ui.actions import Action, allowed_actions
from batchmon.ui.banner import Banner
from batchmon.ui.batch_list import BatchItem, Column
from batchmon.ui.columns import fit_columns, minimum_table_width
from batchmon.ui.detail_pane import DetailPane
from batchmon.ui.filter_proxy import STATUS_FILTERS, BatchFilterProxy
from batchmon.ui.jobs_pane import JobsPane
from batchmon.ui.progress_delegate import ProgressDelegate
from batchmon.ui.resources import app_icon
from batchmon.ui.status_bar import ChannelStatusBar
from batchmon.ui.table_model import BatchRole, BatchTableModel, refresh_visible_times
from batchmon.ui.tasks import TaskSet
from batchmon.ui.tray import TraySummary, tray_summary

log = logging.getLogger(__name__)


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


#: The keys of the window's actions (also shown in their menus and tooltips).
SHORTCUTS: dict[str, str] = {
    "refresh": "F5",
    "quit": "Ctrl+Q",
    "retry": "Ctrl+R",
    "retry_all": "Ctrl+Shift+R",
    "search": "Ctrl+F",
    "cancel": "Delete",
}


def _with_key(text: str, key: str) -> str:
    """A tooltip that names its shortcut the way the menus show it."""
    shown = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
    return f"{text} ({shown})"


class MainWindow(QMainWindow):
    """The batch table with its toolbar, detail pane, banner and channel status bar."""

    refresh_requested = Signal()
    pause_toggled = Signal(bool)
    settings_requested = Signal()
    #: "Tag N untagged assets…": plan a job for them (the composition root asks and runs it).
    tag_requested = Signal()
    #: Ctrl+Q or File > Quit: the composition root shuts down in order.
    quit_requested = Signal()
    #: The window was closed (its close button, Alt+F4, the window manager).
    closed = Signal()
    #: "Pause notifications" toggled (True: quiet for an hour).
    notifications_paused_toggled = Signal(bool)
    #: ``(batch_id, muted)``: the row menu's "Mute notifications" toggled.
    mute_toggled = Signal(str, bool)
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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.operations = operations
        self.demo = demo
        self._detail_tasks = TaskSet()
        self._muted: set[str] = set()
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
        self.runner = ActionRunner(operations, self.banner, self)
        self.runner.action_finished.connect(self.action_finished)
        self.runner.busy_changed.connect(self._busy_changed)
        self.runner.show_requested.connect(self.select_batch)
        self.status = ChannelStatusBar(self)
        self.setStatusBar(self.status)
        self._build_actions()
        self._build_toolbar()
        self._build_menus()

        self.jobs = JobsPane()
        self.jobs.batch_activated.connect(self.select_batch)
        batches_side = QSplitter(Qt.Orientation.Vertical)
        batches_side.addWidget(self.jobs)  # hidden until there is a job
        batches_side.addWidget(self.table)
        batches_side.setStretchFactor(1, 1)
        batches_side.setChildrenCollapsible(False)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(batches_side)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)  # a wider window widens the table
        splitter.setStretchFactor(1, 0)
        # The table first (every column in full when the window allows), the pane the rest.
        table_width = max(minimum_table_width(self.table), self.width() - 400)
        detail_width = max(self.detail.minimumWidth(), self.width() - table_width)
        splitter.setSizes([self.width() - detail_width, detail_width])
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
        # "Time in state" moves with the clock, idle or not: repaint the visible cells.
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(lambda: refresh_visible_times(self.table, model))
        self._clock.start()
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
        table.horizontalHeader().setHighlightSections(False)
        table.setItemDelegateForColumn(int(Column.PROGRESS), ProgressDelegate(table))
        fit_columns(table)  # measured from the font; extra width goes to the Batch column
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        return table

    def _action(
        self, text: str, tooltip: str, key: str | None = None, *, checkable: bool = False
    ) -> QAction:
        action = QAction(text, self)
        action.setToolTip(_with_key(tooltip, key) if key else tooltip)
        action.setCheckable(checkable)
        if key:
            action.setShortcut(QKeySequence(key))
        self.addAction(action)  # its key works wherever the focus is in the window
        return action

    def _build_actions(self) -> None:
        self.refresh_action = self._action(
            "Refresh", "Check every pending batch now", SHORTCUTS["refresh"]
        )
        self.refresh_action.triggered.connect(self.refresh_requested)
        self.pause_action = self._action(
            "Pause polling", "Stop asking OpenAI; push updates keep arriving", checkable=True
        )
        self.pause_action.toggled.connect(self.pause_toggled)
        self.pause_notifications_action = self._action(
            "Pause notifications",
            "No notifications for an hour; batches are still watched",
            checkable=True,
        )
        self.pause_notifications_action.toggled.connect(self.notifications_paused_toggled)
        self.retry_action = self._action(
            "Retry failed requests…",
            "Resubmit the failed requests of the selected batch",
            SHORTCUTS["retry"],
        )
        self.retry_action.triggered.connect(self.retry_selected)
        self.retry_all_action = self._action(
            "Retry all failed",
            "Resubmit the failed requests of every failed batch",
            SHORTCUTS["retry_all"],
        )
        self.retry_all_action.triggered.connect(self.request_retry_all)
        self.tag_action = self._action(
            "Tag untagged assets…",
            "Plan one job for every asset never tagged; its cost is shown before anything is sent",
        )
        self.tag_action.triggered.connect(self.tag_requested)
        self.tag_action.setVisible(False)  # until the untagged assets are known
        self.cancel_action = self._action(
            "Cancel batch…", "Cancel the selected running batch", SHORTCUTS["cancel"]
        )
        self.cancel_action.triggered.connect(self.cancel_selected)
        self.find_action = self._action("Search", "Type to filter the batches", SHORTCUTS["search"])
        self.find_action.triggered.connect(self.focus_search)
        self.settings_action = self._action("Settings…", "Account, database and monitoring")
        self.settings_action.triggered.connect(self.settings_requested)
        self.quit_action = self._action(
            "Quit", "Stop monitoring and close batchmon", SHORTCUTS["quit"]
        )
        self.quit_action.triggered.connect(self.quit_requested)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.refresh_action)
        view_menu.addAction(self.pause_action)
        view_menu.addAction(self.pause_notifications_action)
        view_menu.addAction(self.find_action)
        batch_menu = bar.addMenu("&Batch")
        batch_menu.addAction(self.retry_action)
        batch_menu.addAction(self.retry_all_action)
        batch_menu.addAction(self.tag_action)
        batch_menu.addAction(self.cancel_action)
        self.view_menu = view_menu

    def _build_toolbar(self) -> None:
        bar = QToolBar("Actions")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        bar.addAction(self.refresh_action)
        bar.addAction(self.pause_action)
        bar.addAction(self.pause_notifications_action)
        bar.addAction(self.retry_all_action)
        bar.addAction(self.tag_action)
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
        self.search.setToolTip(_with_key("Show only batches matching this text", "Ctrl+F"))
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
        self._detail_tasks.spawn(self._load_detail(item.id, generation), _log_failure)

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
            live=item,
        )
        self.detail.set_busy(self.runner.is_busy(batch_id))
        self.detail_shown.emit(batch_id)

    @staticmethod
    def _actions_for(item: BatchItem) -> frozenset[Action]:
        return allowed_actions(
            item.status,
            item.batch.request_counts,
            retried_by=item.retried_by,
            results_state=item.results_state,
        )

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
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))  # no nested loop (no exec)

    def build_context_menu(self, item: BatchItem) -> QMenu:
        """The row menu: the actions this batch's state allows (plus copying its id)."""
        menu = QMenu(self)
        actions = self._actions_for(item)
        busy = self.runner.is_busy(item.id)
        retry = menu.addAction("Retry failed requests…")
        retry.setEnabled(Action.RETRY in actions and not busy)
        retry.triggered.connect(lambda: self.request_retry(item.id))
        cancel = menu.addAction("Cancel batch…")
        cancel.setEnabled(Action.CANCEL in actions and not busy)
        cancel.triggered.connect(lambda: self.request_cancel(item.id))
        for entry, name in ((retry, "retry"), (cancel, "cancel")):
            # Shown as a reminder; the window's own action handles the key.
            entry.setShortcut(QKeySequence(SHORTCUTS[name]))
            entry.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            entry.setShortcutVisibleInContextMenu(True)
        menu.addSeparator()
        muted = item.id in self._muted
        if Action.MUTE in actions or muted:
            mute = menu.addAction("Mute notifications for this batch")
            mute.setCheckable(True)
            mute.setChecked(muted)
            mute.toggled.connect(lambda on: self.mute_toggled.emit(item.id, on))
        if Action.COPY_ID in actions:
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
        self.runner.retry(batch_id)

    def request_cancel(self, batch_id: str) -> None:
        """Confirm, then ask OpenAI to cancel the batch (finished requests keep results)."""
        self.runner.cancel(batch_id)

    def set_untagged_count(self, count: int | None) -> None:
        """Offer "Tag N untagged assets…" while there are some (None: not known here)."""
        if count:
            self.tag_action.setText(f"Tag {count:,} untagged assets…")
        self.tag_action.setVisible(bool(count))

    def request_retry_all(self) -> None:
        """Retry every batch whose state allows it, after one confirmation."""
        self.runner.retry_all(
            [item for item in self.model.batch_list if Action.RETRY in self._actions_for(item)]
        )

    def retry_selected(self) -> None:
        """Ctrl+R: retry the selected batch, when its state allows a retry."""
        self._on_selected(
            Action.RETRY, self.request_retry, "Select a failed batch to retry its failed requests."
        )

    def cancel_selected(self) -> None:
        """Delete: cancel the selected batch, when it is still running."""
        self._on_selected(
            Action.CANCEL, self.request_cancel, "Select a running batch to cancel it."
        )

    def _on_selected(self, action: Action, run: Callable[[str], None], otherwise: str) -> None:
        """A key's action on the selected batch; or, when it does not apply, say why."""
        item = self.selected_item()
        if item is None or action not in self._actions_for(item):
            self.banner.show_message(otherwise)
            return
        run(item.id)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _busy_changed(self, batch_id: str, busy: bool) -> None:
        if self.detail.batch_id != batch_id:
            return
        self.detail.set_busy(busy)
        if not busy:
            self._detail_timer.start()

    # -- task plumbing ------------------------------------------------------------------

    def show_error(self, what: str, exc: BaseException) -> None:
        """Show an error to the person (banner) and log it; the hint, when there is one."""
        self.banner.show_error(what, exc)

    @property
    def pending_tasks(self) -> int:
        return len(self.runner.tasks) + len(self._detail_tasks)

    def set_paused(self, paused: bool) -> None:
        """Mirror the poller's pause state in the toolbar without re-emitting it."""
        _mirror(self.pause_action, paused)

    def set_notifications_paused(self, paused: bool) -> None:
        """Mirror the notifications' pause (it also ends by itself after an hour)."""
        _mirror(self.pause_notifications_action, paused)

    def set_muted(self, batch_id: str, muted: bool) -> None:
        """Remember which batches are muted, for the row menu's check mark."""
        if muted:
            self._muted.add(batch_id)
        else:
            self._muted.discard(batch_id)

    async def cancel_actions(self) -> None:
        """Cancel running actions and detail loads, and wait until they have ended."""
        await self.runner.aclose()
        await self._detail_tasks.aclose()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.tasks.cancel()
        self._detail_tasks.cancel()
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()


def _mirror(action: QAction, checked: bool) -> None:
    """Show ``checked`` on a checkable action without emitting ``toggled``."""
    action.blockSignals(True)
    action.setChecked(checked)
    action.blockSignals(False)


def _log_failure(task: Any) -> None:
    """Detail loads report to the banner themselves; here only retrieve the exception."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("detail load ended with %r", task.exception())
