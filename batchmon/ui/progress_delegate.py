"""Draws a batch's progress as one bar: succeeded and failed requests side by side.

A plain progress bar hides failures inside "done"; here the failed share is its own
colour, so a batch that is 100% done with 30% failures looks different at a glance.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from batchmon.ui import resources
from batchmon.ui.table_model import ProgressRole

COMPLETED_COLOR = resources.STATUS_COLORS["completed"]
FAILED_COLOR = resources.STATUS_COLORS["failed"]
TRACK_COLOR = "#E5E7EB"
_TRACK = QColor(TRACK_COLOR)
_COMPLETED = QColor(COMPLETED_COLOR)
_FAILED = QColor(FAILED_COLOR)


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


def progress_label(completed: int, failed: int, total: int) -> str:
    """``97/100`` or ``97/100 · 3 failed``; empty before OpenAI has counted."""
    if total <= 0:
        return ""
    text = f"{completed + failed}/{total}"
    return f"{text} · {failed} failed" if failed else text


class ProgressDelegate(QStyledItemDelegate):
    """Paints ``ProgressRole`` ``(completed, failed, total)`` as a two-colour bar + text.

    Cells without progress data (before the first count) fall back to the default
    painting, so the column's display text still shows.
    """

    margin = 3

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        value = index.data(ProgressRole)
        if not (isinstance(value, tuple) and len(value) == 3 and value[2] > 0):
            super().paint(painter, option, index)
            return
        completed, failed, total = (int(v) for v in value)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        panel = QStyleOptionViewItem(option)
        self.initStyleOption(panel, index)
        panel.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, panel, painter, widget)

        rect: QRect = option.rect.adjusted(self.margin, self.margin, -self.margin, -self.margin)
        completed_px, failed_px = bar_widths(completed, failed, total, rect.width())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(rect, _TRACK)
        painter.fillRect(QRect(rect.left(), rect.top(), completed_px, rect.height()), _COMPLETED)
        painter.fillRect(
            QRect(rect.left() + completed_px, rect.top(), failed_px, rect.height()), _FAILED
        )
        text = progress_label(completed, failed, total)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette: QPalette = option.palette
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(max(base.width(), 140), base.height())
