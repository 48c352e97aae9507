"""Draws a batch's progress as one bar: succeeded and failed requests side by side.

A plain progress bar hides failures inside "done"; here the failed share is its own
colour, so a batch that is 100% done with 30% failures looks different at a glance.
The table's cells (:class:`ProgressDelegate`) and the detail pane (:class:`ProgressBar`)
draw with the same :func:`paint_progress` from the same figures, so they never disagree.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from batchmon.ui import resources
from batchmon.ui.table_model import ProgressRole

COMPLETED_COLOR = resources.STATUS_COLORS["completed"]
FAILED_COLOR = resources.STATUS_COLORS["failed"]
TRACK_COLOR = "#E5E7EB"
_TRACK = QColor(TRACK_COLOR)
_COMPLETED = QColor(COMPLETED_COLOR)
_FAILED = QColor(FAILED_COLOR)
_ON_BAR = QColor("#111827")
"""Text drawn over the bar: dark on the light track and on the green and red segments."""


def bar_widths(completed: int, failed: int, total: int, width: int) -> tuple[int, int]:
    """Pixel widths of the completed and failed segments in a bar ``width`` wide.

    Counts are clamped (OpenAI's counts may briefly exceed ``total``); a non-empty
    segment is never rounded away to zero pixels, so one failure stays visible.
    """
    if total <= 0 or width <= 0:
        return (0, 0)
    completed = max(0, min(completed, total))
    failed = max(0, min(failed, total - completed))
    completed_px = max(round(width * completed / total), 1 if completed else 0)
    failed_px = max(round(width * failed / total), 1 if failed else 0)
    overflow = completed_px + failed_px - width
    if overflow > 0:
        if completed_px >= failed_px:
            completed_px -= overflow
        else:
            failed_px -= overflow
    return (completed_px, failed_px)


def paint_progress(
    painter: QPainter,
    rect: QRect,
    counts: tuple[int, int, int],
    text: str,
    text_color: QColor = _ON_BAR,
) -> None:
    """The track, the green completed and red failed segments, and ``text`` centred."""
    completed, failed, total = counts
    completed_px, failed_px = bar_widths(completed, failed, total, rect.width())
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.fillRect(rect, _TRACK)
    painter.fillRect(QRect(rect.left(), rect.top(), completed_px, rect.height()), _COMPLETED)
    painter.fillRect(
        QRect(rect.left() + completed_px, rect.top(), failed_px, rect.height()), _FAILED
    )
    painter.setPen(text_color)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
    painter.restore()


class ProgressDelegate(QStyledItemDelegate):
    """Paints ``ProgressRole`` ``(completed, failed, total)`` as a two-colour bar + text.

    The text is the cell's display text (the model's one wording); cells with neither
    counts nor text (before the first count) fall back to the default painting.
    """

    margin = 3

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        value = index.data(ProgressRole)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        counted = isinstance(value, tuple) and len(value) == 3 and value[2] > 0
        if not counted and not text:
            super().paint(painter, option, index)
            return
        counts = tuple(int(v) for v in value) if counted else (0, 0, 0)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        panel = QStyleOptionViewItem(option)
        self.initStyleOption(panel, index)
        panel.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, panel, painter, widget)
        rect: QRect = option.rect.adjusted(self.margin, self.margin, -self.margin, -self.margin)
        colour = _ON_BAR if counted else _FAILED
        paint_progress(painter, rect, counts, text, colour)  # type: ignore[arg-type]

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(max(base.width(), 140), base.height())


class ProgressBar(QWidget):
    """The detail pane's bar: the table's drawing, at the pane's width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts = (0, 0, 0)
        self._text = ""
        self._text_color = _ON_BAR
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(18)

    @property
    def counts(self) -> tuple[int, int, int]:
        """``(completed, failed, total)`` as drawn."""
        return self._counts

    @property
    def text(self) -> str:
        """The words drawn on the bar."""
        return self._text

    def set_progress(self, counts: tuple[int, int, int], text: str, *, alarm: bool = False) -> None:
        """Show ``counts`` with ``text``; ``alarm`` draws the text in the failure colour."""
        self._counts = counts
        self._text = text
        self._text_color = _FAILED if alarm else _ON_BAR
        self.setToolTip(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        paint_progress(painter, self.rect(), self._counts, self._text, self._text_color)
        painter.end()

    def sizeHint(self) -> QSize:
        return QSize(200, 18)
