"""``BatchTableModel``: the Qt face of a :class:`~batchmon.ui.batch_list.BatchList`.

The model holds no data of its own. It forwards the list's row callbacks as
``beginInsertRows``/``endInsertRows``, ``beginRemoveRows``/``endRemoveRows`` and one
``dataChanged`` per run of changed cells, so a poll tick that touches 100 of 10,000
batches repaints 100 rows and never resets the view (selection, scroll position and
sorting survive every tick).

Roles beyond Qt's own (all on every column):

- ``BatchRole``: the :class:`~batchmon.ui.batch_list.BatchItem`.
- ``StatusRole``: the status string.
- ``ProgressRole``: ``(completed, failed, total)`` (ints) for the progress delegate.
- ``SortRole``: a value that sorts the column sensibly (numbers, ranks, seconds).
- ``FilterRole``: casefolded text the filter proxy matches (status, id, model, label).

A view asks ``data()`` about seven roles per painted cell, so the hot path is kept
short: roles nobody answers return at once, and each item's cell texts and sort keys
are formatted once per snapshot (cached by item identity), not once per paint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractProxyModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView

from batchmon.core.formatting import format_duration
from batchmon.core.models import base_model
from batchmon.core.status import (
    DEFAULT_STUCK_LIMITS,
    StuckLimits,
    eta_seconds,
    is_pending,
    is_stuck,
    outcome,
    time_in_state,
)
from batchmon.ui import resources
from batchmon.ui.batch_list import BatchItem, BatchList, Column
from batchmon.ui.results_view import sentence, short_note, shown_status
from batchmon.ui.time_base import REAL_TIME, TimeBase

if TYPE_CHECKING:
    from openai.types import Batch

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    """Custom item data roles (``Qt.UserRole`` and up)."""

    BatchRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    ProgressRole = Qt.ItemDataRole.UserRole + 3
    SortRole = Qt.ItemDataRole.UserRole + 4
    FilterRole = Qt.ItemDataRole.UserRole + 5


BatchRole = Role.BatchRole
StatusRole = Role.StatusRole
ProgressRole = Role.ProgressRole
SortRole = Role.SortRole
FilterRole = Role.FilterRole

HEADERS: dict[Column, str] = {
    Column.ID: "Batch",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.ASSETS: "Assets",
    Column.MODEL: "Model",
    Column.CREATED: "Created",
    Column.TIME: "Time in state / ETA",
    Column.COST: "Cost (saving)",
}

STATUS_LABELS: dict[str, str] = {
    "validating": "Validating",
    "in_progress": "In progress",
    "finalizing": "Finalizing",
    "completed": "Completed",
    "failed": "Failed",
    "expired": "Expired",
    "cancelling": "Cancelling",
    "cancelled": "Cancelled",
}

STATUS_RANK: dict[str, int] = {
    "failed": 0,
    "expired": 1,
    "cancelled": 2,
    "cancelling": 3,
    "validating": 4,
    "in_progress": 5,
    "finalizing": 6,
    "completed": 7,
}
"""Sorting by status puts what needs a person first and finished work last."""

STUCK_COLOR = "#B45309"

_NUMERIC = {Column.PROGRESS, Column.ASSETS, Column.TIME, Column.COST}
_COLUMN_COUNT = len(Column)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ALIGNMENT: tuple[int | None, ...] = tuple(_RIGHT if c in _NUMERIC else None for c in Column)
_TIME = int(Column.TIME)
_STATUS = int(Column.STATUS)

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN_ROLE = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BATCH = int(Role.BatchRole)
_STATUS_ROLE = int(Role.StatusRole)
_PROGRESS = int(Role.ProgressRole)
_SORT = int(Role.SortRole)
_FILTER = int(Role.FilterRole)
_ANSWERED = frozenset(
    {
        _DISPLAY,
        _DECORATION,
        _TOOLTIP,
        _ALIGN_ROLE,
        _FOREGROUND,
        _BATCH,
        _STATUS_ROLE,
        _PROGRESS,
        _SORT,
        _FILTER,
    }
)
"""Roles ``data()`` may answer; a view also asks for font, background and check state,
which return None before any lookup."""


def status_label(status: str) -> str:
    """A person's word for a status (an unknown one is shown as it came)."""
    return STATUS_LABELS.get(status, status)


def status_text(item: BatchItem) -> str:
    """The status cell: the engine's results state when it has one, else the status."""
    if item.results_state:
        return short_note(item.results_state, item.results_note)
    return status_label(item.status)


def item_status(item: BatchItem) -> str:
    """The status whose icon and colour the row shows (see :mod:`results_view`)."""
    return shown_status(item.status, item.results_state)


def format_usd(value: float) -> str:
    """Dollars with enough digits that a cheap batch does not show as $0.00."""
    return f"${value:.2f}" if value >= 0.1 else f"${value:.4f}"


def progress_label(completed: int, failed: int, total: int) -> str:
    """``97/100`` or ``97/100 · 3 failed``; empty before OpenAI has counted."""
    if total <= 0:
        return ""
    text = f"{completed + failed}/{total}"
    return f"{text} · {failed} failed" if failed else text


def rejected_label(batch: Batch) -> str:
    """``rejected: 3 errors``: a batch that failed validation never gets counts."""
    errors = batch.errors.data if batch.errors and batch.errors.data else []
    if not errors:
        return "rejected"
    return f"rejected: {len(errors)} error{'' if len(errors) == 1 else 's'}"


def progress_text(item: BatchItem) -> str:
    """What the progress bar says, in the table and the detail pane alike."""
    p = item.progress
    if p.total == 0 and item.status == "failed":
        return rejected_label(item.batch)
    return progress_label(p.completed, p.failed, p.total)


def time_text(item: BatchItem, now: float, limits: StuckLimits = DEFAULT_STUCK_LIMITS) -> str:
    """The ETA while a rate is known, else how long the batch has been in its state."""
    eta = eta_seconds(item.batch, now)
    if eta is not None:
        return f"ETA {format_duration(eta)}"
    spent = time_in_state(item.batch, now)
    if spent is None:
        return ""
    if is_pending(item.status):
        text = format_duration(spent)
        return f"{text} (stuck?)" if is_stuck(item.batch, now, limits) else text
    return f"{format_duration(spent)} ago"


def cost_text(item: BatchItem) -> str:
    """``$0.42 (saved $0.42)``, or an empty string when usage or price is unknown."""
    cost = item.cost
    if cost.batch_usd is None:
        return ""
    if cost.saving_usd:
        return f"{format_usd(cost.batch_usd)} (saved {format_usd(cost.saving_usd)})"
    return format_usd(cost.batch_usd)


def assets_text(item: BatchItem) -> str:
    """The asset count, with how many still wait for a result."""
    if item.asset_count is None:
        return ""
    if item.pending_assets:
        return f"{item.asset_count} ({item.pending_assets} pending)"
    return str(item.asset_count)


def created_text(item: BatchItem, to_wall: Callable[[float], float] = REAL_TIME.to_wall) -> str:
    """Local wall-clock creation time, minute precision."""
    if not item.created_at:
        return ""
    return datetime.fromtimestamp(to_wall(item.created_at)).strftime("%Y-%m-%d %H:%M")


def filter_text(item: BatchItem) -> str:
    """What the search box matches: the status first, then id, model, status and label.

    The leading ``\x1f<status>\x1f`` lets a status filter anchor on the exact status.
    """
    status = item.status
    words = " ".join((item.id, item.model or "", status, status_label(status)))
    if item.results_state:
        words += f" {item.results_state} {status_text(item)}"
    return f"\x1f{status}\x1f {words}".casefold()


class _Cells:
    """An item's sort keys, filter text and (on first paint) cell texts, made once per snapshot.

    The time column is missing: it moves with the clock, so it is formatted per paint.
    """

    __slots__ = ("_display", "_to_wall", "filter", "item", "progress", "sort")

    def __init__(self, item: BatchItem, to_wall: Callable[[float], float]) -> None:
        self.item = item
        self._to_wall = to_wall
        p = item.progress
        self.progress = (p.completed, p.failed, p.total)
        cost = item.cost.batch_usd
        self.sort: tuple[Any, ...] = (
            item.id,
            STATUS_RANK.get(item.status, len(STATUS_RANK)),
            p.fraction,
            item.asset_count if item.asset_count is not None else -1,
            item.model or "",
            item.created_at,
            None,
            cost if cost is not None else -1.0,
        )
        self.filter = filter_text(item)
        self._display: tuple[str, ...] | None = None

    @property
    def display(self) -> tuple[str, ...]:
        """Cell texts by column, formatted when a view first paints the row."""
        if self._display is None:
            item = self.item
            self._display = (
                item.id,
                status_text(item),
                progress_text(item),
                assets_text(item),
                base_model(item.model) if item.model else "",
                created_text(item, self._to_wall),
                "",
                cost_text(item),
            )
        return self._display


class BatchTableModel(QAbstractTableModel):
    """A table over a :class:`BatchList`; one row per batch, :class:`Column` columns.

    ``now`` (unix seconds) is injected so time columns are testable; the time column
    changes with the clock, not with the data, so call :meth:`refresh_time_column`
    from a timer (one ``dataChanged`` for the whole column, cheap) to keep it current.
    """

    def __init__(
        self,
        batches: BatchList | None = None,
        *,
        now: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._list = batches if batches is not None else BatchList()
        self._items = self._list.live_items()
        self._now = now
        self._limits = DEFAULT_STUCK_LIMITS
        self._to_wall = REAL_TIME.to_wall
        self._cells: dict[str, _Cells] = {}
        self._status_colors: dict[str, QColor] = {}
        self._list.about_to_insert.connect(self._about_to_insert)
        self._list.inserted.connect(self._inserted)
        self._list.about_to_remove.connect(self._about_to_remove)
        self._list.removed.connect(self._removed)
        self._list.changed_many.connect(self._changed)

    @property
    def batch_list(self) -> BatchList:
        """The list this model adapts (feed it; the model follows)."""
        return self._list

    # -- lookups for views ---------------------------------------------------------

    def item_at(self, row: int) -> BatchItem:
        """The item shown in ``row`` (of this model, not of a proxy)."""
        return self._list.item(row)

    def index_of(self, batch_id: str, column: Column = Column.ID) -> QModelIndex:
        """The index of a batch's cell, invalid when the batch is not listed."""
        row = self._list.row_of(batch_id)
        return QModelIndex() if row is None else self.index(row, int(column))

    def set_time_base(self, base: TimeBase) -> None:
        """Judge and show every time on ``base`` (the demo's clock); repaints all rows."""
        self._now = base.now
        self._limits = base.stuck_limits
        self._to_wall = base.to_wall
        self._cells.clear()
        if self._items:
            last = len(self._items) - 1
            self.dataChanged.emit(self.createIndex(0, 0), self.createIndex(last, _COLUMN_COUNT - 1))

    def is_stuck(self, item: BatchItem) -> bool:
        """Whether ``item`` has sat in its state longer than this clock's limits allow."""
        return is_stuck(item.batch, self._now(), self._limits)

    def refresh_time_column(self) -> None:
        """Tell views the clock moved: one ``dataChanged`` over the time column."""
        if self._items:
            self.dataChanged.emit(
                self.createIndex(0, _TIME), self.createIndex(len(self._items) - 1, _TIME)
            )

    def refresh_time_rows(self, rows: Iterable[int]) -> int:
        """The clock moved for these rows only: one ``dataChanged`` per run of rows.

        Returns how many cells were announced.
        """
        ordered = sorted({r for r in rows if 0 <= r < len(self._items)})
        emit, index = self.dataChanged.emit, self.createIndex
        start = prev = -2
        for row in ordered:
            if row != prev + 1:
                if start >= 0:
                    emit(index(start, _TIME), index(prev, _TIME))
                start = row
            prev = row
        if start >= 0:
            emit(index(start, _TIME), index(prev, _TIME))
        return len(ordered)

    def sort_key(self, row: int, column: int) -> Any:
        """The ``SortRole`` value of a cell, without a ``QModelIndex`` (for the proxy)."""
        item = self._items[row]
        if column == _TIME:
            return self._sort_key(item, Column.TIME)
        cells = self._cells.get(item.id)
        if cells is None or cells.item is not item:
            cells = self._cells_of(item)
        return cells.sort[column]

    # -- QAbstractTableModel ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of Qt's hasIndex() calling rowCount() and columnCount().
        if 0 <= row < len(self._items) and 0 <= column < _COLUMN_COUNT and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.TextAlignmentRole and Column(section) in _NUMERIC:
                return _RIGHT
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ANSWERED:
            return None
        row = index.row()  # -1 for an invalid index
        items = self._items
        if row < 0 or row >= len(items):
            return None
        item = items[row]
        column = index.column()
        if role == _DISPLAY:
            if column == _TIME:
                return time_text(item, self._now(), self._limits)
            return self._cells_of(item).display[column]
        if role == _ALIGN_ROLE:
            return _ALIGNMENT[column]
        if role == _FOREGROUND:
            if column == _STATUS:
                return self._status_color(item_status(item))
            if column == _TIME and self.is_stuck(item):
                return QColor(STUCK_COLOR)
            return None
        if role == _DECORATION:
            return resources.status_icon(item_status(item)) if column == _STATUS else None
        if role == _SORT:
            if column == _TIME:
                return self._sort_key(item, Column.TIME)
            return self._cells_of(item).sort[column]
        if role == _PROGRESS:
            return self._cells_of(item).progress
        if role == _BATCH:
            return item
        if role == _STATUS_ROLE:
            return item.status
        if role == _FILTER:
            return self._cells_of(item).filter
        return self._tooltip(item, Column(column))

    def _cells_of(self, item: BatchItem) -> _Cells:
        cells = self._cells.get(item.id)
        if cells is None or cells.item is not item:
            cells = self._cells[item.id] = _Cells(item, self._to_wall)
        return cells

    def _status_color(self, status: str) -> QColor:
        color = self._status_colors.get(status)
        if color is None:
            color = self._status_colors[status] = resources.status_color(status)
        return color

    # -- cell contents --------------------------------------------------------------

    def _sort_key(self, item: BatchItem, column: Column) -> Any:
        """The time column's sort key (seconds), computed at ``now``; others are cached."""
        if column != Column.TIME:
            return self._cells_of(item).sort[column]
        now = self._now()
        eta = eta_seconds(item.batch, now)
        if eta is not None:
            return float(eta)
        spent = time_in_state(item.batch, now)
        return float(spent if spent is not None else -1.0)

    def _tooltip(self, item: BatchItem, column: Column) -> str | None:
        if column in (Column.ID, Column.STATUS, Column.PROGRESS):
            lines = [outcome(item.batch).text]
            if item.results_note:
                lines.append(sentence(item.results_note))
            if item.retry_of:
                lines.append(f"Retry of {item.retry_of}")
            if item.retried_by:
                lines.append(f"Retried as {item.retried_by}")
            return "\n".join(lines)
        if column == Column.TIME and self.is_stuck(item):
            return f"{status_label(item.status)} for longer than usual: it may be stuck"
        if column == Column.COST and item.cost.batch_usd is not None:
            c = item.cost
            standard = c.standard_usd or 0.0
            saving = c.saving_usd or 0.0
            share = f" ({saving / standard:.0%} savings)" if standard else ""
            return (
                f"Batch API: {format_usd(c.batch_usd or 0.0)}\n"
                f"Standard API: {format_usd(standard)}\n"
                f"Saved with the Batch API: {format_usd(saving)}{share}"
            )
        return None

    # -- list callbacks -----------------------------------------------------------

    def _about_to_insert(self, first: int, last: int) -> None:
        self.beginInsertRows(QModelIndex(), first, last)

    def _inserted(self, first: int, last: int) -> None:
        self.endInsertRows()

    def _about_to_remove(self, first: int, last: int) -> None:
        self.beginRemoveRows(QModelIndex(), first, last)
        for item in self._items[first : last + 1]:
            self._cells.pop(item.id, None)

    def _removed(self, first: int, last: int) -> None:
        self.endRemoveRows()

    def _changed(self, changes: list[tuple[int, frozenset[Column]]]) -> None:
        """One ``dataChanged`` per run of neighbouring rows and neighbouring columns."""
        emit, index = self.dataChanged.emit, self.createIndex
        first = prev = -2
        columns: frozenset[Column] = frozenset()
        for row, cols in changes:
            if row == prev + 1 and cols == columns:
                prev = row
                continue
            if first >= 0:
                for start, end in _column_runs(columns):
                    emit(index(first, start), index(prev, end))
            first = prev = row
            columns = cols
        if first >= 0:
            for start, end in _column_runs(columns):
                emit(index(first, start), index(prev, end))


def _column_runs(columns: frozenset[Column]) -> list[tuple[int, int]]:
    """``{2, 3, 6}`` -> ``[(2, 3), (6, 6)]``: contiguous spans of column numbers."""
    runs = _RUNS.get(columns)
    if runs is None:
        ordered = sorted(int(c) for c in columns)
        runs = []
        start = prev = ordered[0]
        for column in ordered[1:]:
            if column != prev + 1:
                runs.append((start, prev))
                start = column
            prev = column
        runs.append((start, prev))
        _RUNS[columns] = runs
    return runs


_RUNS: dict[frozenset[Column], list[tuple[int, int]]] = {}


def visible_source_rows(view: QAbstractItemView) -> list[int]:
    """The model rows a view shows on screen right now (through its proxy, if any)."""
    if not view.isVisible() or view.model() is None:
        return []
    shown = view.model()
    count = shown.rowCount()
    if count == 0:
        return []
    viewport = view.viewport()
    first = view.indexAt(viewport.rect().topLeft()).row()
    last = view.indexAt(viewport.rect().bottomLeft()).row()
    first = max(first, 0)
    last = count - 1 if last < 0 else last
    rows = []
    for row in range(first, last + 1):
        index = shown.index(row, _TIME)
        model = shown
        while isinstance(model, QAbstractProxyModel):
            index = model.mapToSource(index)
            model = model.sourceModel()
        rows.append(index.row())
    return rows


def refresh_visible_times(view: QAbstractItemView, model: BatchTableModel) -> int:
    """The one-second tick: only the time cells on screen are repainted.

    Runs while nothing is pending too, so "3h ago" keeps counting on an idle window;
    returns how many cells it announced.
    """
    return model.refresh_time_rows(visible_source_rows(view))
