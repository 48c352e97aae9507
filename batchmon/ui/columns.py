"""Column widths of the batch table: measured from the font, extra width to the ids.

Fixed pixel widths break with another font or DPI (the Cost column was cut off behind a
scrollbar at the default window size, and a wide window left a gap after it). Each
column is as wide as the longest text it normally shows, measured with the table's own
font; the Batch column stretches, since ids are what a wider window should reveal.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
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


class _IdColumnKeeper(QObject):
    """Stretches the Batch column while the table has room, and never below MIN_ID_WIDTH.

    Qt's Stretch mode would squeeze the ids to a few pixels ("b...4") in a narrow window;
    below the minimum the column keeps its width and the table scrolls instead.
    """

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self._table = table

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            keep_id_column(self._table)
        return False


def keep_id_column(table: QTableView) -> None:
    """Stretch the Batch column into the free width, or hold it at MIN_ID_WIDTH."""
    header = table.horizontalHeader()
    others = sum(header.sectionSize(i) for i in range(header.count()) if i != int(Column.ID))
    room = table.viewport().width() - others
    if room >= MIN_ID_WIDTH:
        header.setSectionResizeMode(int(Column.ID), QHeaderView.ResizeMode.Stretch)
    else:
        header.setSectionResizeMode(int(Column.ID), QHeaderView.ResizeMode.Interactive)
        header.resizeSection(int(Column.ID), MIN_ID_WIDTH)


def fit_columns(table: QTableView) -> None:
    """Size every column to its sample and let the Batch column take what is left."""
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setMinimumSectionSize(48)
    for column, width in column_widths(table).items():
        table.setColumnWidth(int(column), width)
    table.viewport().installEventFilter(_IdColumnKeeper(table))
    keep_id_column(table)


def minimum_table_width(table: QTableView) -> int:
    """The width at which every column shows in full (the Batch column at its minimum)."""
    return sum(column_widths(table).values()) + MIN_ID_WIDTH + table.frameWidth() * 2
