"""The Qt model over the batch list: passes Qt's model tester, updates cells, never resets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QRect, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from batchmon.config import Settings
from batchmon.core.status import StuckLimits
from batchmon.ui import resources
from batchmon.ui.batch_list import BatchItem, BatchList, Column
from batchmon.ui.desktop import Desktop
from batchmon.ui.progress_delegate import (
    COMPLETED_COLOR,
    FAILED_COLOR,
    ProgressDelegate,
    bar_widths,
)
from batchmon.ui.table_model import (
    BatchRole,
    BatchTableModel,
    ProgressRole,
    SortRole,
    StatusRole,
    format_duration,
    progress_label,
    refresh_visible_times,
    visible_source_rows,
)
from batchmon.ui.time_base import TimeBase
from tests.helpers.batches import T0, make_batch
from tests.helpers.clock import Clock
from tests.helpers.qt import next_emit

Fatal = QAbstractItemModelTester.FailureReportingMode.Fatal


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 600.0)


@pytest.fixture
def model(qapp: Any, clock: Clock) -> Iterator[BatchTableModel]:
    m = BatchTableModel(BatchList(), now=clock)
    tester = QAbstractItemModelTester(m, Fatal)
    yield m
    del tester


class SignalLog:
    """Every structural signal a model emits, with its arguments as plain tuples."""

    def __init__(self, model: BatchTableModel) -> None:
        self.events: list[tuple[Any, ...]] = []
        model.dataChanged.connect(
            lambda tl, br, roles=(): self.events.append(
                ("dataChanged", tl.row(), tl.column(), br.row(), br.column())
            )
        )
        for name in (
            "modelAboutToBeReset",
            "modelReset",
            "layoutAboutToBeChanged",
            "layoutChanged",
            "rowsMoved",
        ):
            getattr(model, name).connect(lambda *a, _n=name: self.events.append((_n,)))
        model.rowsInserted.connect(lambda p, f, last: self.events.append(("inserted", f, last)))
        model.rowsRemoved.connect(lambda p, f, last: self.events.append(("removed", f, last)))


def test_model_tester_passes_through_inserts_changes_and_removals(
    model: BatchTableModel,
) -> None:
    batches = model.batch_list
    batches.upsert_batches([make_batch(f"b{i}", completed=i) for i in range(20)])
    batches.upsert_batches(
        [make_batch(f"b{i}", "finalizing", completed=10) for i in range(0, 20, 3)]
    )
    batches.upsert_batches([make_batch("late", "validating")])
    batches.remove_many(["b0", "b1", "b7", "late"])
    batches.upsert_batches([make_batch("b2", "completed", completed=8, failed=2)])
    assert model.rowCount() == 17
    assert model.columnCount() == len(Column)
    assert model.rowCount(model.index(0, 0)) == 0
    batches.clear()
    assert model.rowCount() == 0


def test_a_tick_changes_only_the_changed_cells_and_never_resets(qapp: Any, clock: Clock) -> None:
    # No model tester here: it re-checks the whole model on every signal (seconds at
    # 1000 rows); the test above runs it through the same kinds of change.
    model = BatchTableModel(BatchList(), now=clock)
    batches = model.batch_list
    batches.upsert_batches([make_batch(f"b{i:04d}", completed=1) for i in range(1000)])
    view = QTableView()
    view.setModel(model)
    view.selectRow(500)
    log = SignalLog(model)

    tick = [make_batch(f"b{i:04d}", completed=5) for i in range(0, 1000, 100)]
    tick.append(make_batch("b0005", "finalizing", completed=10))
    tick.append(make_batch("b0006", completed=1))  # unchanged: no signal
    tick.append(make_batch("new", "validating"))
    batches.upsert_batches(tick)

    progress_cells = [
        ("dataChanged", r, Column.PROGRESS, r, Column.PROGRESS) for r in range(0, 1000, 100)
    ]
    time_cells = [("dataChanged", r, Column.TIME, r, Column.TIME) for r in range(0, 1000, 100)]
    expected: set[tuple[Any, ...]] = set(progress_cells + time_cells)
    expected |= {
        ("dataChanged", 5, Column.STATUS, 5, Column.PROGRESS),
        ("dataChanged", 5, Column.TIME, 5, Column.TIME),
        ("inserted", 1000, 1000),
    }
    assert not any(
        e[0] in {"modelAboutToBeReset", "modelReset", "layoutChanged"} for e in log.events
    )
    assert set(log.events) == expected
    assert len(log.events) == len(expected)
    assert view.selectionModel().selectedRows()[0].row() == 500


def test_custom_roles_and_display(model: BatchTableModel, clock: Clock) -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    model.batch_list.upsert_batches(
        [
            make_batch(
                "a",
                "completed",
                completed=97,
                failed=3,
                total=100,
                usage=usage,
                model="gpt-4o-mini-2024-07-18",
            )
        ]
    )

    def cell(column: Column, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return model.index(0, int(column)).data(role)

    assert cell(Column.ID) == "a"
    assert cell(Column.STATUS) == "Completed"
    assert cell(Column.PROGRESS) == "100/100 · 3 failed"
    assert cell(Column.MODEL) == "gpt-4o-mini", "the model asked for, not the snapshot that ran"
    assert cell(Column.COST) == "$0.0750 (saved $0.0750)"
    assert "ago" in cell(Column.TIME)
    assert cell(Column.ID, ProgressRole) == (97, 3, 100)
    assert cell(Column.MODEL, StatusRole) == "completed"
    item = cell(Column.COST, BatchRole)
    assert isinstance(item, BatchItem) and item.id == "a"
    assert "97 of 100 succeeded, 3 failed" in cell(Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(cell(Column.STATUS, Qt.ItemDataRole.DecorationRole), QIcon)
    assert cell(Column.STATUS, Qt.ItemDataRole.ForegroundRole) == resources.status_color(
        "completed"
    )
    assert model.headerData(int(Column.TIME), Qt.Orientation.Horizontal) == "Time in state / ETA"
    assert model.index_of("a", Column.STATUS).column() == Column.STATUS
    assert not model.index_of("missing").isValid()


def test_time_column_shows_eta_while_running_and_flags_a_stuck_batch(
    model: BatchTableModel, clock: Clock
) -> None:
    # in_progress since T0+60; at T0+600, 30 of 100 done -> 70 more take 1260 s.
    running = make_batch("run", "in_progress", completed=20, failed=10, total=100)
    stuck = make_batch("stuck", "finalizing", completed=100, total=100)
    model.batch_list.upsert_batches([running, stuck])
    assert model.index(0, int(Column.TIME)).data() == f"ETA {format_duration(1260)}"
    assert model.index(1, int(Column.TIME)).data() == "8m"
    clock.now = T0 + 120 + 2 * 3600
    assert model.index(1, int(Column.TIME)).data() == "2h 00m (stuck?)"
    assert model.index(1, int(Column.TIME)).data(Qt.ItemDataRole.ForegroundRole) == QColor(
        "#B45309"
    )
    log = SignalLog(model)
    model.refresh_time_column()
    assert log.events == [("dataChanged", 0, Column.TIME, 1, Column.TIME)]


def test_sort_role_gives_sortable_values(model: BatchTableModel) -> None:
    model.batch_list.upsert_batches(
        [make_batch("a", "completed", completed=10), make_batch("b", "failed", total=0)]
    )
    ranks = [model.index(r, int(Column.STATUS)).data(SortRole) for r in range(2)]
    assert ranks[1] < ranks[0]  # what needs a person sorts first
    assert model.index(0, int(Column.PROGRESS)).data(SortRole) == 1.0


@pytest.mark.parametrize(
    ("counts", "width", "expected"),
    [
        ((50, 0, 100), 100, (50, 0)),
        ((70, 30, 100), 100, (70, 30)),
        ((999, 1, 1000), 100, (99, 1)),  # one failure stays visible
        ((0, 0, 0), 100, (0, 0)),
        ((120, 5, 100), 100, (100, 0)),  # counts above total are clamped
    ],
)
def test_bar_widths(counts: tuple[int, int, int], width: int, expected: tuple[int, int]) -> None:
    assert bar_widths(*counts, width) == expected
    assert sum(bar_widths(*counts, width)) <= width


def _paint_progress_cell(model: BatchTableModel) -> QImage:
    """The first row's progress cell as the delegate draws it, 206 x 26 px on white."""
    image = QImage(206, 26, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 206, 26)
    ProgressDelegate().paint(painter, option, model.index(0, int(Column.PROGRESS)))
    painter.end()
    return image


def test_delegate_paints_completed_and_failed_segments(model: BatchTableModel) -> None:
    model.batch_list.upsert_batches(
        [make_batch("a", "completed", completed=50, failed=50, total=100)]
    )
    image = _paint_progress_cell(model)
    assert image.pixelColor(10, 4) == QColor(COMPLETED_COLOR)
    assert image.pixelColor(195, 4) == QColor(FAILED_COLOR)
    assert progress_label(50, 50, 100) == "100/100 · 50 failed"


def test_rows_of_an_invalid_parent_and_out_of_range_are_empty(model: BatchTableModel) -> None:
    assert model.data(QModelIndex()) is None
    assert model.rowCount() == 0


def test_neighbouring_rows_with_the_same_change_share_one_data_changed(
    qapp: Any, clock: Clock
) -> None:
    model = BatchTableModel(BatchList(), now=clock)
    batches = model.batch_list
    batches.upsert_batches([make_batch(f"b{i}", completed=1) for i in range(10)])
    log = SignalLog(model)
    batches.upsert_batches(
        [make_batch(f"b{i}", completed=2) for i in (6, 2, 3, 4)]
        + [make_batch("b8", "finalizing", completed=10)]
    )
    assert sorted(log.events) == [
        ("dataChanged", 2, Column.PROGRESS, 4, Column.PROGRESS),
        ("dataChanged", 2, Column.TIME, 4, Column.TIME),
        ("dataChanged", 6, Column.PROGRESS, 6, Column.PROGRESS),
        ("dataChanged", 6, Column.TIME, 6, Column.TIME),
        ("dataChanged", 8, Column.STATUS, 8, Column.PROGRESS),
        ("dataChanged", 8, Column.TIME, 8, Column.TIME),
    ]


def test_cells_show_the_latest_snapshot_after_every_kind_of_update(
    model: BatchTableModel,
) -> None:
    batches = model.batch_list
    batches.upsert_batches([make_batch("a", completed=1, total=10), make_batch("b")])
    progress = model.index(0, int(Column.PROGRESS))
    status = model.index(0, int(Column.STATUS))
    assert (progress.data(), status.data(), progress.data(SortRole)) == (
        "1/10",
        "In progress",
        0.1,
    )
    batches.upsert_batches([make_batch("a", "finalizing", completed=10, total=10)])
    assert (progress.data(), status.data(), progress.data(SortRole)) == (
        "10/10",
        "Finalizing",
        1.0,
    )
    assert progress.data(ProgressRole) == (10, 0, 10)
    batches.remove("a")
    assert model.index(0, int(Column.ID)).data() == "b"
    batches.upsert_batches([make_batch("a", completed=3, total=10)])
    assert model.index(1, int(Column.PROGRESS)).data() == "3/10"
    assert model.index(2, 0).data() is None and not model.index(2, 0).isValid()
    assert model.index(0, len(Column)).data() is None


def test_a_rejected_batch_reads_rejected_in_its_progress_cell(model: BatchTableModel) -> None:
    errors = {
        "object": "list",
        "data": [{"code": "invalid_json_line", "line": n, "message": "x"} for n in (1, 2, 3)],
    }
    model.batch_list.upsert_batches(
        [make_batch("r", "failed", total=0, errors=errors), make_batch("v", "validating", total=0)]
    )
    assert model.index(0, int(Column.PROGRESS)).data() == "rejected: 3 errors"
    assert model.index(1, int(Column.PROGRESS)).data() == ""  # not counted yet: no words


def test_delegate_paints_a_rejected_cell_in_the_failure_colour(model: BatchTableModel) -> None:
    errors = {"object": "list", "data": [{"code": "invalid_request", "message": "x"}]}
    model.batch_list.upsert_batches([make_batch("r", "failed", total=0, errors=errors)])
    image = _paint_progress_cell(model)
    colours = {image.pixelColor(x, y).name() for x in range(206) for y in range(26)}
    assert QColor(FAILED_COLOR).name() in colours, "the words are drawn in red"


def test_the_demo_clock_sets_stuck_limits_and_shows_created_on_the_wall_clock(
    model: BatchTableModel, clock: Clock
) -> None:
    model.batch_list.upsert_batches([make_batch("v", "validating", total=0)])
    clock.now = T0 + 2 * 3600
    assert model.index(0, int(Column.TIME)).data() == "2h 00m (stuck?)"
    lenient = StuckLimits(validating=6 * 3600)
    log = SignalLog(model)
    model.set_time_base(TimeBase(now=clock, stuck_limits=lenient, to_wall=lambda s: s - 3600))
    assert model.index(0, int(Column.TIME)).data() == "2h 00m"
    expected = datetime.fromtimestamp(T0 - 3600).strftime("%Y-%m-%d %H:%M")
    assert model.index(0, int(Column.CREATED)).data() == expected
    assert log.events == [("dataChanged", 0, 0, 0, len(Column) - 1)]


def test_only_the_time_cells_on_screen_are_refreshed(qapp: Any, clock: Clock) -> None:
    model = BatchTableModel(BatchList(), now=clock)
    model.batch_list.upsert_batches([make_batch(f"b{i:03d}", "completed") for i in range(300)])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.sort(int(Column.ID), Qt.SortOrder.DescendingOrder)  # screen order != model order
    view = QTableView()
    view.setModel(proxy)
    view.verticalHeader().setDefaultSectionSize(28)
    view.resize(800, 400)
    assert refresh_visible_times(view, model) == 0, "a hidden view costs nothing"
    view.show()
    rows = visible_source_rows(view)
    assert 5 < len(rows) < 30
    assert rows[0] == 299  # b299 sorts first, descending
    log = SignalLog(model)
    assert refresh_visible_times(view, model) == len(rows)
    assert all(e[2] == e[4] == Column.TIME for e in log.events)
    announced = {r for e in log.events for r in range(e[1], e[3] + 1)}
    assert announced == set(rows)
    view.close()


async def test_an_idle_window_keeps_its_visible_time_cells_ticking(qapp: Any) -> None:
    """Nothing pending, no poll pass: "ago" still moves, once a second, on screen only."""
    desktop = Desktop(Settings(), native_notifications=False)
    window = desktop.window
    now = [float(T0 + 3600)]
    desktop.use_clock(lambda: now[0])
    try:
        desktop.batches.upsert_batches([make_batch(f"b{i}", "completed") for i in range(3)])
        window.show()
        assert window.clock_running
        cell = desktop.model.index(0, int(Column.TIME))
        before = cell.data()
        now[0] += 7200
        ticked = next_emit(
            desktop.model.dataChanged, lambda tl, br, *_: tl.column() == int(Column.TIME)
        )
        top_left, bottom_right, *_ = await ticked
        assert (top_left.row(), bottom_right.row()) == (0, 2)
        assert cell.data() != before and cell.data().endswith("ago")
    finally:
        await desktop.aclose()
        window.close()
