"""The jobs above the batch table: one row per job, its planned batches under it.

Rows are kept by job id and updated in place, so a refresh every few seconds keeps what
a person expanded or selected. Double-clicking a submitted batch selects it in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from batchmon.store.job_rows import JobBatch, JobSummary
from batchmon.ui.jobs_view import JOB_COLUMNS, job_cells

_BATCH_ID_ROLE = int(Qt.ItemDataRole.UserRole)
MAX_HEIGHT = 220


def _batch_cells(batch: JobBatch) -> list[str]:
    where = batch.openai_batch_id or "not submitted yet"
    cost = "" if batch.estimated_cost is None else f"~${batch.estimated_cost:,.4f}"
    return [
        f"Batch {batch.ordinal} · {where}",
        batch.state,
        f"{batch.request_count:,} requests",
        "",
        cost,
        "",
    ]


class JobsPane(QTreeWidget):
    """Jobs as a tree; hidden while there are none."""

    #: A job batch that has an OpenAI batch was activated: its id.
    batch_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(JOB_COLUMNS))
        self.setHeaderLabels(list(JOB_COLUMNS))
        self.setUniformRowHeights(True)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._rows: dict[str, QTreeWidgetItem] = {}
        self.itemActivated.connect(self._activated)
        self.itemExpanded.connect(self._fit_height)
        self.itemCollapsed.connect(self._fit_height)
        self.setVisible(False)

    def job_item(self, job_id: str) -> QTreeWidgetItem | None:
        return self._rows.get(job_id)

    def set_jobs(
        self,
        jobs: Sequence[JobSummary],
        batches: Mapping[str, Sequence[JobBatch]],
        now: datetime,
    ) -> None:
        """Show ``jobs`` (newest first, as given) with the batches known for each."""
        keep = {job.id for job in jobs}
        for job_id in [i for i in self._rows if i not in keep]:
            item = self._rows.pop(job_id)
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))
        for position, job in enumerate(jobs):
            known = self._rows.get(job.id)
            item = known if known is not None else self._add_job(job.id, position)
            for column, text in enumerate(job_cells(job, now)):
                item.setText(column, text)
            if job.id in batches:
                self._fill_batches(item, batches[job.id])
        self.setVisible(bool(jobs))
        self._fit_height()

    def _fit_height(self, *_: object) -> None:
        """As tall as its rows (a job, or its open batches), never more than MAX_HEIGHT:
        one job must not push the batch table half down the window."""
        rows = 0
        for index in range(self.topLevelItemCount()):
            item = self.topLevelItem(index)
            if item is not None:
                rows += 1 + (item.childCount() if item.isExpanded() else 0)
        row_height = max(self.sizeHintForRow(0), self.fontMetrics().height() + 4)
        wanted = self.header().sizeHint().height() + rows * row_height + 2 * self.frameWidth()
        self.setFixedHeight(min(MAX_HEIGHT, wanted + 4))

    def _add_job(self, job_id: str, position: int) -> QTreeWidgetItem:
        item = self._rows[job_id] = QTreeWidgetItem()
        self.insertTopLevelItem(position, item)
        return item

    @staticmethod
    def _fill_batches(item: QTreeWidgetItem, batches: Sequence[JobBatch]) -> None:
        while item.childCount() > len(batches):
            item.takeChild(item.childCount() - 1)
        for index, batch in enumerate(batches):
            child = item.child(index) if index < item.childCount() else None
            if child is None:
                child = QTreeWidgetItem(item)
            for column, text in enumerate(_batch_cells(batch)):
                child.setText(column, text)
            child.setData(0, _BATCH_ID_ROLE, batch.openai_batch_id)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        batch_id = item.data(0, _BATCH_ID_ROLE)
        if isinstance(batch_id, str) and batch_id:
            self.batch_activated.emit(batch_id)
