"""The "Tag N untagged assets" confirmation: the plan, its cost, and a budget field.

An ordinary window-modal dialog, opened and awaited through :mod:`batchmon.ui.dialogs`
(never ``exec()``), so polling and the worker carry on while the person reads the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from batchmon.core.planner import PlannedBatch, summarize
from batchmon.ui import dialogs
from batchmon.ui.job_plan import budget_line, plan_lines

MAX_BUDGET = 1_000_000.0


@dataclass(frozen=True, slots=True)
class TagChoice:
    """The person's answer: go ahead or not, and the budget (None: no limit)."""

    accepted: bool
    max_cost: float | None = None


class TagJobDialog(QDialog):
    """Shows the planned batches and asks Yes/No, with an optional maximum cost."""

    def __init__(
        self, asset_count: int, batches: Sequence[PlannedBatch], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._batches = list(batches)
        self.setWindowTitle("Tag untagged assets")
        layout = QVBoxLayout(self)
        self.question = QLabel(f"Tag {asset_count:,} untagged assets as one job?")
        self.question.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.question)
        self.plan = QLabel("\n".join(plan_lines(summarize(self._batches))))
        layout.addWidget(self.plan)
        form = QFormLayout()
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
        self.buttons.button(QDialogButtonBox.StandardButton.Yes).setDefault(True)
        layout.addWidget(self.buttons)
        self.budget.valueChanged.connect(self._show_budget)
        self._show_budget()

    def max_cost(self) -> float | None:
        value = self.budget.value()
        return value if value > 0 else None

    def _show_budget(self, *_: object) -> None:
        self.budget_note.setText(budget_line(self._batches, self.max_cost()))


async def ask_tag_job(
    parent: QWidget | None, asset_count: int, batches: Sequence[PlannedBatch]
) -> TagChoice:
    """Open the confirmation and wait for it (never a nested event loop)."""
    dialog = TagJobDialog(asset_count, batches, parent)
    try:
        accepted = await dialogs.run_dialog(dialog) == QDialog.DialogCode.Accepted
        return TagChoice(accepted, dialog.max_cost() if accepted else None)
    finally:
        dialog.deleteLater()
