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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from batchmon.core.status import eta_seconds, is_pending, is_stuck, outcome, time_in_state
from batchmon.ui import resources
from batchmon.ui.batch_list import BatchItem, BatchList, Column

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    """Custom item data roles (``Qt.UserRole`` and up)."""

    BatchRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    ProgressRole = Qt.ItemDataRole.UserRole + 3
    SortRole = Qt.ItemDataRole.UserRole + 4


BatchRole = Role.BatchRole
StatusRole = Role.StatusRole
ProgressRole = Role.ProgressRole
SortRole = Role.SortRole

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


def status_label(status: str) -> str:
    """A person's word for a status (an unknown one is shown as it came)."""
    return STATUS_LABELS.get(status, status)


def format_duration(seconds: float) -> str:
    """Compact duration for a table cell: ``45s``, ``12m``, ``1h 05m``, ``2d 03h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def format_usd(value: float) -> str:
    """Dollars with enough digits that a cheap batch does not show as $0.00."""
    return f"${value:.2f}" if value >= 0.1 else f"${value:.4f}"


def progress_text(item: BatchItem) -> str:
    """``97 / 100 (3 failed)``, or an empty string before OpenAI has counted."""
    p = item.progress
    if p.total == 0:
        return ""
    text = f"{p.done} / {p.total}"
    return f"{text} ({p.failed} failed)" if p.failed else text


def time_text(item: BatchItem, now: float) -> str:
    """The ETA while a rate is known, else how long the batch has been in its state."""
    eta = eta_seconds(item.batch, now)
    if eta is not None:
        return f"ETA {format_duration(eta)}"
    spent = time_in_state(item.batch, now)
    if spent is None:
        return ""
    if is_pending(item.status):
        text = format_duration(spent)
        return f"{text} (stuck?)" if is_stuck(item.batch, now) else text
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


def created_text(item: BatchItem) -> str:
    """Local creation time, minute precision."""
    if not item.created_at:
        return ""
    return datetime.fromtimestamp(item.created_at).strftime("%Y-%m-%d %H:%M")


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
        self._now = now
        self._list.about_to_insert.connect(self._about_to_insert)
        self._list.inserted.connect(self._inserted)
        self._list.about_to_remove.connect(self._about_to_remove)
        self._list.removed.connect(self._removed)
        self._list.changed.connect(self._changed)

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

    def refresh_time_column(self) -> None:
        """Tell views the clock moved: one ``dataChanged`` over the time column."""
        if len(self._list):
            column = int(Column.TIME)
            self.dataChanged.emit(self.index(0, column), self.index(len(self._list) - 1, column))

    # -- QAbstractTableModel ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._list)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.TextAlignmentRole and Column(section) in _NUMERIC:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._list):
            return None
        item = self._list.item(index.row())
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == BatchRole:
            return item
        if role == StatusRole:
            return item.status
        if role == ProgressRole:
            p = item.progress
            return (p.completed, p.failed, p.total)
        if role == SortRole:
            return self._sort_key(item, column)
        if column == Column.STATUS:
            if role == Qt.ItemDataRole.DecorationRole:
                return resources.status_icon(item.status)
            if role == Qt.ItemDataRole.ForegroundRole:
                return resources.status_color(item.status)
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.TIME:
            if is_stuck(item.batch, self._now()):
                return QColor(STUCK_COLOR)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- cell contents --------------------------------------------------------------

    def _display(self, item: BatchItem, column: Column) -> str:
        if column == Column.ID:
            return item.id
        if column == Column.STATUS:
            return status_label(item.status)
        if column == Column.PROGRESS:
            return progress_text(item)
        if column == Column.ASSETS:
            return assets_text(item)
        if column == Column.MODEL:
            return item.model or ""
        if column == Column.CREATED:
            return created_text(item)
        if column == Column.TIME:
            return time_text(item, self._now())
        return cost_text(item)

    def _sort_key(self, item: BatchItem, column: Column) -> Any:
        if column == Column.ID:
            return item.id
        if column == Column.STATUS:
            return STATUS_RANK.get(item.status, len(STATUS_RANK))
        if column == Column.PROGRESS:
            return item.progress.fraction
        if column == Column.ASSETS:
            return item.asset_count if item.asset_count is not None else -1
        if column == Column.MODEL:
            return item.model or ""
        if column == Column.CREATED:
            return item.created_at
        if column == Column.TIME:
            now = self._now()
            eta = eta_seconds(item.batch, now)
            spent = time_in_state(item.batch, now)
            return float(eta if eta is not None else (spent if spent is not None else -1.0))
        return item.cost.batch_usd if item.cost.batch_usd is not None else -1.0

    def _tooltip(self, item: BatchItem, column: Column) -> str | None:
        if column in (Column.ID, Column.STATUS, Column.PROGRESS):
            lines = [outcome(item.batch).text]
            if item.retry_of:
                lines.append(f"Retry of {item.retry_of}")
            if item.retried_by:
                lines.append(f"Retried as {item.retried_by}")
            return "\n".join(lines)
        if column == Column.TIME and is_stuck(item.batch, self._now()):
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

    def _removed(self, first: int, last: int) -> None:
        self.endRemoveRows()

    def _changed(self, row: int, columns: frozenset[Column]) -> None:
        ordered = sorted(columns)
        start = prev = ordered[0]
        for column in ordered[1:]:
            if column != prev + 1:
                self.dataChanged.emit(self.index(row, start), self.index(row, prev))
                start = column
            prev = column
        self.dataChanged.emit(self.index(row, start), self.index(row, prev))
