"""Column widths of the batch table: measured from the font, extra width to the ids.

Fixed pixel widths break with another font or DPI (the Cost column was cut off behind a
scrollbar at the default window size, and a wide window left a gap after it). Each
column is as wide as the longest text it normally shows, measured with the table's own
font; the Batch column stretches, since ids are what a wider window should reveal.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from batchmon.ui.batch_list import Column

#: The widest text each column normally shows (the Batch column stretches instead).
COLUMN_SAMPLES: dict[Column, str] = {
    Column.STATUS: "In progress",
    Column.PROGRESS: "20/20 · 20 failed",
    Column.ASSETS: "200 (200 pending)",
    Column.MODEL: "gpt-4o-mini",
    Column.CREATED: "2026-12-31 23:59",
    Column.TIME: "1h 07m (stuck?)",
    Column.COST: "$0.0000 (saved $0.0000)",
}
ICON_ROOM = 24
"""The status icon before the status text."""
CELL_PADDING = 14
MIN_ID_WIDTH = 150
_HORIZONTAL = Qt.Orientation.Horizontal


def column_widths(table: QTableView) -> dict[Column, int]:
    """Pixel widths that fit each sample in the table's font, header text included."""
    cells = table.fontMetrics()
    header = table.horizontalHeader().fontMetrics()
    model = table.model()
    widths = {}
    for column, sample in COLUMN_SAMPLES.items():
        title = "" if model is None else str(model.headerData(int(column), _HORIZONTAL))
        width = max(cells.horizontalAdvance(sample), header.horizontalAdvance(title) + 12)
        if column == Column.STATUS:
            width += ICON_ROOM
        widths[column] = width + CELL_PADDING
    return widths


def fit_columns(table: QTableView) -> None:
    """Size every column to its sample and let the Batch column take what is left."""
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(int(Column.ID), QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(48)
    for column, width in column_widths(table).items():
        table.setColumnWidth(int(column), width)


def minimum_table_width(table: QTableView) -> int:
    """The width at which every column shows in full (the Batch column at its minimum)."""
    return sum(column_widths(table).values()) + MIN_ID_WIDTH + table.frameWidth() * 2
