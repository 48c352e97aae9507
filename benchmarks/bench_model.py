"""GUI-thread cost of one poll tick with 10,000 batches in the table, 100 of them changing.

A tick is everything the GUI thread does for one poll pass: merging the pass's snapshots
into the batch list, the model's ``dataChanged`` signals, the sorting/filtering proxy's
reaction, and the view painting what changed (offscreen, set up like the main window:
sorted by creation time, newest first). The view paints the way a real window does: Qt
coalesces the update requests and repaints only the visible cells that changed when
events are processed. Target: <= 5 ms per tick.

Each figure is the median and 95th percentile over the ticks, in wall-clock time and in
CPU time of the GUI thread (the latter is what the tick costs; the former also counts
whatever else the machine was doing). The baseline, measured in the same run on the
same model, proxy and view, is what a naive model does: a full model reset per tick.

Also shown, to say where time goes: the same ticks against the list alone, list + model,
list + model + proxy; a harder tick where 100 batches finish while the table is sorted
by status (rows move); one full repaint of the visible table (what scrolling costs); and
the once-a-second refresh of the time cells on screen (and, for scale, of the whole
time column).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_model.py``
(``--ticks N`` for more or fewer ticks). Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from openai.types import Batch
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QTableView

from batchmon.ui.batch_list import BatchList, Callbacks, Column
from batchmon.ui.filter_proxy import BatchFilterProxy
from batchmon.ui.progress_delegate import ProgressDelegate
from batchmon.ui.table_model import BatchTableModel, refresh_visible_times

ROWS = 10_000
CHANGED = 100
TICKS = 100
BASELINE_TICKS = 5
TARGET_MS = 5.0
T0 = 1_700_000_000
NOW = T0 + 3600.0


def batch(i: int, completed: int, status: str = "in_progress") -> Batch:
    """Batch ``i`` with ``completed`` of 1000 requests done (1 in 50 of them failed)."""
    data = {
        "id": f"batch_{i:05d}",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "completion_window": "24h",
        "status": status,
        "created_at": T0 + i,
        "in_progress_at": T0 + i + 60,
        "model": "gpt-4o-mini",
        "request_counts": {"total": 1000, "completed": completed, "failed": completed // 50},
    }
    if status == "completed":
        data.update(finalizing_at=T0 + i + 120, completed_at=T0 + i + 180)
    return Batch.model_validate(data)


def progress_ticks(count: int) -> list[list[Batch]]:
    """Each tick moves a different, spread-out set of 100 batches forward.

    The set includes rows on screen (the newest batches) about every other tick, so the
    view has something to repaint.
    """
    step = ROWS // CHANGED
    return [
        [batch(i, 10 + tick) for i in range(ROWS - 1 - tick % step, -1, -step)][:CHANGED]
        for tick in range(count)
    ]


def finishing_ticks(count: int) -> list[list[Batch]]:
    """Each tick, 100 different running batches complete (their status and sort key move)."""
    return [
        [batch(i, 980, "completed") for i in range(tick, ROWS, count)][:CHANGED]
        for tick in range(count)
    ]


@dataclass
class Table:
    """One stack under test; the parts that are None are left out."""

    model: BatchTableModel
    proxy: BatchFilterProxy | None
    view: QTableView | None


def build(layers: str, sort_column: Column = Column.CREATED) -> Table:
    """10,000 running batches in a list, plus ``layers`` of "model", "proxy", "view"."""
    model = BatchTableModel(BatchList(), now=lambda: NOW)
    model.batch_list.upsert_batches([batch(i, 0) for i in range(ROWS)])
    proxy = view = None
    if "proxy" in layers:
        proxy = BatchFilterProxy()
        proxy.setSourceModel(model)
        proxy.sort(int(sort_column), Qt.SortOrder.DescendingOrder)
    if "view" in layers:
        assert proxy is not None
        view = QTableView()
        view.setModel(proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(int(sort_column), Qt.SortOrder.DescendingOrder)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(28)
        view.horizontalHeader().setStretchLastSection(True)
        view.setItemDelegateForColumn(int(Column.PROGRESS), ProgressDelegate(view))
        view.resize(1200, 800)
        view.show()
        view.selectRow(3)
    QCoreApplication.processEvents()
    return Table(model, proxy, view)


@dataclass
class Figures:
    """Per-tick milliseconds: wall clock and CPU time of the GUI thread."""

    wall: list[float]
    cpu: list[float]

    def line(self, name: str) -> str:
        return (
            f"{name:<44} {median(self.wall):8.2f} {p95(self.wall):8.2f}"
            f" {median(self.cpu):8.2f} {p95(self.cpu):8.2f}"
        )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def measure(apply: Callable[[list[Batch]], object], ticks: list[list[Batch]]) -> Figures:
    """Time ``apply`` plus event processing (the view's repaint) for each tick."""
    wall, cpu = [], []
    for tick in ticks:
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        apply(tick)
        QCoreApplication.processEvents()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
    return Figures(wall, cpu)


def full_reset(table: Table) -> Callable[[list[Batch]], None]:
    """The naive model: swap the data in without row signals, then reset the model."""
    model = table.model
    batches = model.batch_list

    def apply(tick: list[Batch]) -> None:
        model.beginResetModel()
        changed, changed_many = batches.changed, batches.changed_many
        batches.changed, batches.changed_many = Callbacks(), Callbacks()
        try:
            batches.upsert_batches(tick)
        finally:
            batches.changed, batches.changed_many = changed, changed_many
        model.endResetModel()

    return apply


def full_repaint(table: Table, times: int = 20) -> Figures:
    """One synchronous repaint of everything visible (scrolling, exposing the window)."""
    assert table.view is not None
    wall, cpu = [], []
    for _ in range(times):
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        table.view.viewport().repaint()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
    return Figures(wall, cpu)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=TICKS)
    parser.add_argument("--baseline-ticks", type=int, default=BASELINE_TICKS)
    args = parser.parse_args(argv)
    _app = QApplication.instance() or QApplication(sys.argv[:1])

    print(
        f"{ROWS} batches, {CHANGED} changing per tick, {args.ticks} ticks "
        f"(baseline {args.baseline_ticks}); ms per tick"
    )
    print(f"{'':<44} {'median':>8} {'p95':>8} {'cpu med':>8} {'cpu p95':>8}")
    results: dict[str, Figures] = {}
    for name, layers in (
        ("list only", ""),
        ("list + model", "model"),
        ("list + model + proxy (sorted)", "model proxy"),
    ):
        table = build(layers)
        if not layers:  # detach the model: the list's own work only
            batches = table.model.batch_list
            batches.changed, batches.changed_many = Callbacks(), Callbacks()
        results[name] = measure(table.model.batch_list.upsert_batches, progress_ticks(args.ticks))
        print(results[name].line(name))

    table = build("model proxy view")
    incremental = measure(table.model.batch_list.upsert_batches, progress_ticks(args.ticks))
    print(incremental.line("TICK: list + model + proxy + view"))
    reset_table = build("model proxy view")
    baseline = measure(full_reset(reset_table), progress_ticks(args.baseline_ticks))
    print(baseline.line("BASELINE: same, full model reset per tick"))
    print(
        f"{'ratio baseline / tick (median)':<44} "
        f"{median(baseline.wall) / median(incremental.wall):8.0f}x"
        f"{'':>18}{median(baseline.cpu) / median(incremental.cpu):8.0f}x"
    )

    sorted_by_status = build("model proxy view", Column.STATUS)
    finishing = measure(
        sorted_by_status.model.batch_list.upsert_batches, finishing_ticks(args.ticks)
    )
    print(finishing.line("100 batches finish, sorted by status (rows move)"))
    print(full_repaint(table).line("one full repaint of the visible table"))
    clock = measure(lambda _tick: table.model.refresh_time_column(), [[]] * 20)
    print(clock.line("whole time column refresh"))
    view = table.view
    assert view is not None
    visible = measure(lambda _tick: refresh_visible_times(view, table.model), [[]] * 20)
    print(visible.line("visible time cells refresh (each second)"))

    ok = median(incremental.cpu) <= TARGET_MS and median(incremental.wall) <= TARGET_MS
    print(f"target <= {TARGET_MS} ms per tick (median): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
