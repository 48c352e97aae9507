"""The batch table's columns: every column readable, the ids never squeezed away."""

from __future__ import annotations

from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from batchmon.ui.batch_list import BatchList, Column
from batchmon.ui.columns import MIN_ID_WIDTH, column_widths, fit_columns, minimum_table_width
from batchmon.ui.table_model import BatchTableModel
from tests.helpers.batches import make_batch


def _table(qtbot: QtBot) -> QTableView:
    batches = BatchList()
    batches.upsert_batches([make_batch("batch_3a4834468ca96ace498c4360", "completed")])
    table = QTableView()
    table.setModel(BatchTableModel(batches))
    table.verticalHeader().hide()  # as the window's table
    qtbot.addWidget(table)
    fit_columns(table)
    table.show()
    return table


def test_a_wide_table_gives_its_extra_width_to_the_batch_column(qtbot: QtBot) -> None:
    table = _table(qtbot)
    table.resize(minimum_table_width(table) + 400, 300)
    qtbot.waitUntil(lambda: table.columnWidth(int(Column.ID)) >= MIN_ID_WIDTH + 300)
    for column, width in column_widths(table).items():
        assert table.columnWidth(int(column)) == width, f"{column.name} keeps its width"
    qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() == 0)


def test_a_narrow_table_scrolls_instead_of_squeezing_the_ids(qtbot: QtBot) -> None:
    table = _table(qtbot)
    table.resize(minimum_table_width(table) - 300, 300)
    qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() > 0)
    assert table.columnWidth(int(Column.ID)) == MIN_ID_WIDTH
    table.resize(minimum_table_width(table) + 200, 300)
    qtbot.waitUntil(lambda: table.columnWidth(int(Column.ID)) > MIN_ID_WIDTH)
