"""The "Tag N untagged assets" confirmation: the plan, its cost, the image size, a budget.

An ordinary window-modal dialog, opened and awaited through :mod:`batchmon.ui.dialogs`
(never ``exec()``), so polling and the worker carry on while the person reads the plan.
Changing the image size plans again through an awaited ``replan`` (the flow runs the
planner off the event loop); Yes waits until the plan shown is the one at the size shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from batchmon.core.planner import PlannedBatch, summarize
from batchmon.core.requests import DEFAULT_MODEL
from batchmon.core.tokens import ImageSize, format_image_size
from batchmon.ui import dialogs
from batchmon.ui.job_plan import (
    SIZE_CHOICES,
    UNKNOWN_SIZE,
    budget_line,
    chosen_size,
    plan_lines,
    size_line,
)

log = logging.getLogger(__name__)

MAX_BUDGET = 1_000_000.0
REPLAN_DELAY_MS = 250
"""Typing a size waits this long for the next key before planning again."""

Replan = Callable[[ImageSize | None], Awaitable[Sequence[PlannedBatch]]]


@dataclass(frozen=True, slots=True)
class TagChoice:
    """The person's answer: go ahead or not, the budget (None: no limit), the image size."""

    accepted: bool
    max_cost: float | None = None
    image_size: ImageSize | None = None


class TagJobDialog(QDialog):
    """Shows the planned batches and asks Yes/No, with the image size and a maximum cost."""

    replanned = Signal()
    """The plan shown is now the one at the size in the field."""

    def __init__(
        self,
        asset_count: int,
        batches: Sequence[PlannedBatch],
        parent: QWidget | None = None,
        *,
        image_size: ImageSize | None = None,
        replan: Replan | None = None,
    ) -> None:
        super().__init__(parent)
        self._batches = list(batches)
        self._planned_at = image_size
        self._replan = replan
        self._planning: asyncio.Task[None] | None = None
        self.setWindowTitle("Tag untagged assets")
        layout = QVBoxLayout(self)
        self.question = QLabel(f"Tag {asset_count:,} untagged assets as one job?")
        self.question.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.question)
        self.plan = QLabel()
        layout.addWidget(self.plan)
        self.size_note = QLabel()
        self.size_note.setWordWrap(True)
        layout.addWidget(self.size_note)
        form = QFormLayout()
        self.image_size = self._size_field(image_size)
        form.addRow("Image size:", self.image_size)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.0, MAX_BUDGET)
        self.budget.setDecimals(2)
        self.budget.setPrefix("$")
        self.budget.setSpecialValueText("No limit")
        self.budget.setToolTip("Stop submitting batches once their estimated cost would pass this")
        form.addRow("Budget (max cost):", self.budget)
        layout.addLayout(form)
        self.budget_note = QLabel()
        self.budget_note.setWordWrap(True)
        layout.addWidget(self.budget_note)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Yes | QDialogButtonBox.StandardButton.No
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.yes = self.buttons.button(QDialogButtonBox.StandardButton.Yes)
        self.yes.setDefault(True)
        layout.addWidget(self.buttons)
        self._replan_timer = QTimer(self)
        self._replan_timer.setSingleShot(True)
        self._replan_timer.setInterval(REPLAN_DELAY_MS)
        self._replan_timer.timeout.connect(self._start_replan)
        self.budget.valueChanged.connect(self._show_budget)
        self.image_size.currentTextChanged.connect(self._size_changed)
        self.finished.connect(self._stop_planning)
        self._show_plan()

    def _size_field(self, size: ImageSize | None) -> QComboBox:
        field = QComboBox()
        field.setEditable(True)
        field.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        field.addItems(SIZE_CHOICES)
        field.setCurrentText(format_image_size(size) if size else UNKNOWN_SIZE)
        field.setEnabled(self._replan is not None)
        field.setToolTip(
            "The images' usual WIDTHxHEIGHT, or Unknown: each image then counts as the "
            "costliest the model allows, so the queue is never overfilled"
        )
        return field

    def max_cost(self) -> float | None:
        value = self.budget.value()
        return value if value > 0 else None

    def planned_size(self) -> ImageSize | None:
        """The image size the plan shown was made at (what Yes creates the job with)."""
        return self._planned_at

    def _show_plan(self) -> None:
        model = self._batches[0].model if self._batches else DEFAULT_MODEL
        self.plan.setText("\n".join(plan_lines(summarize(self._batches))))
        self.size_note.setStyleSheet("")
        self.size_note.setText(size_line(model, self._planned_at))
        self.yes.setEnabled(True)
        self._show_budget()

    def _show_budget(self, *_: object) -> None:
        self.budget_note.setText(budget_line(self._batches, self.max_cost()))

    def _size_changed(self, text: str) -> None:
        self._stop_planning()
        try:
            size = chosen_size(text)
        except ValueError as exc:
            self.yes.setEnabled(False)
            self.size_note.setStyleSheet("color: #DC2626;")
            self.size_note.setText(f"The image size {exc} (or choose Unknown).")
            return
        if size == self._planned_at:
            self._show_plan()
            return
        self.yes.setEnabled(False)
        self.size_note.setStyleSheet("")
        self.size_note.setText("Planning again at this size…")
        self._replan_timer.start()

    def _start_replan(self) -> None:
        size = chosen_size(self.image_size.currentText())  # checked when it was typed
        self._planning = asyncio.ensure_future(self._plan_at(size))

    async def _plan_at(self, size: ImageSize | None) -> None:
        assert self._replan is not None  # the field is disabled without it
        try:
            batches = await self._replan(size)
        except Exception as exc:  # Yes stays disabled: the plan shown is not at this size
            log.warning("planning at %s failed: %s", size, exc)
            self.size_note.setStyleSheet("color: #DC2626;")
            self.size_note.setText(f"Could not plan at this size: {exc}")
            return
        self._batches, self._planned_at = list(batches), size
        self._show_plan()
        self.replanned.emit()

    def _stop_planning(self, *_: object) -> None:
        """Drop a plan under way: the size changed again, or the dialog is closing."""
        self._replan_timer.stop()
        if self._planning is not None and not self._planning.done():
            self._planning.cancel()
        self._planning = None


async def ask_tag_job(
    parent: QWidget | None,
    asset_count: int,
    batches: Sequence[PlannedBatch],
    *,
    image_size: ImageSize | None = None,
    replan: Replan | None = None,
) -> TagChoice:
    """Open the confirmation and wait for it (never a nested event loop).

    ``batches`` are planned at ``image_size``; ``replan`` plans at another size when the
    person changes it (without it the size is shown but cannot be changed).
    """
    dialog = TagJobDialog(asset_count, batches, parent, image_size=image_size, replan=replan)
    try:
        accepted = await dialogs.run_dialog(dialog) == QDialog.DialogCode.Accepted
        if not accepted:
            return TagChoice(False)
        return TagChoice(True, dialog.max_cost(), dialog.planned_size())
    finally:
        dialog.deleteLater()
