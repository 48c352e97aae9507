"""GUI-thread cost of one poll tick with 10,000 batches in the table, 100 of them changing.

What a tick costs on the GUI thread: merging the pass's snapshots into the batch list,
the model's ``dataChanged`` signals, the sorting/filtering proxy's reaction, and the
view repainting (offscreen). Target: <= 5 ms per tick. The baseline, measured in the
same run, is what a naive model does: a full reset per tick.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_model.py``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from openai.types import Batch
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QTableView

from batchmon.ui.batch_list import BatchList, Column
from batchmon.ui.filter_proxy import BatchFilterProxy
from batchmon.ui.progress_delegate import ProgressDelegate
from batchmon.ui.table_model import BatchTableModel

ROWS = 10_000
CHANGED = 100
TICKS = 50
TARGET_MS = 5.0
T0 = 1_700_000_000


def batch(i: int, completed: int) -> Batch:
    return Batch.model_validate(
        {
            "id": f"batch_{i:05d}",
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "status": "in_progress",
            "created_at": T0 + i,
            "in_progress_at": T0 + i + 60,
            "model": "gpt-4o-mini",
            "request_counts": {"total": 1000, "completed": completed, "failed": completed // 50},
        }
    )


def build() -> tuple[BatchTableModel, QTableView]:
    model = BatchTableModel(BatchList(), now=lambda: T0 + 3600.0)
    model.batch_list.upsert_batches([batch(i, 0) for i in range(ROWS)])
    proxy = BatchFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(int(Column.STATUS), Qt.SortOrder.AscendingOrder)
    view = QTableView()
    view.setModel(proxy)
    view.setItemDelegateForColumn(int(Column.PROGRESS), ProgressDelegate(view))
    view.resize(1200, 800)
    view.show()
    QCoreApplication.processEvents()
    return model, view


def ticks() -> list[list[Batch]]:
    """Each tick moves a different, spread-out set of 100 batches forward."""
    step = ROWS // CHANGED
    return [
        [batch(i, 10 + tick) for i in range(tick % step, ROWS, step)][:CHANGED]
        for tick in range(TICKS)
    ]


def measure(apply: Callable[[list[Batch]], object], view: QTableView) -> list[float]:
    times = []
    for tick in ticks():
        start = time.perf_counter()
        apply(tick)
        view.viewport().repaint()
        QCoreApplication.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return (
        f"{name:<28} median {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   "
        f"max {max(times):7.2f} ms"
    )


def main() -> int:
    _app = QApplication.instance() or QApplication(sys.argv)
    model, view = build()
    incremental = measure(model.batch_list.upsert_batches, view)

    reset_model, reset_view = build()

    def full_reset(tick: list[Batch]) -> None:
        reset_model.beginResetModel()
        lst = reset_model.batch_list
        # the naive path: swap data in without per-row signals, then reset
        callbacks = lst.changed
        lst.changed = type(callbacks)()
        lst.upsert_batches(tick)
        lst.changed = callbacks
        reset_model.endResetModel()

    baseline = measure(full_reset, reset_view)
    print(f"{ROWS} batches, {CHANGED} changing per tick, {TICKS} ticks (proxy + view, offscreen)")
    print(summary("incremental (dataChanged)", incremental))
    print(summary("baseline (full model reset)", baseline))
    ok = statistics.median(incremental) <= TARGET_MS
    print(f"target <= {TARGET_MS} ms per tick: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
