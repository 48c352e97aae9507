"""The "Tag N untagged assets" confirmation: the planner's plan, its cost, a budget.

The plan is the real planner's, over real request lines; the dialog is the real one,
opened and awaited as the app does, answered by typing and clicking.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from batchmon.core.planner import PlanLimits, PlannedBatch, plan_batches, summarize
from batchmon.core.requests import DEFAULT_MODEL, build_tag_request
from batchmon.core.tokens import image_tokens
from batchmon.engine.jobs import sized_estimate
from batchmon.ui.job_plan import batches_within, budget_line, plan_lines
from batchmon.ui.tag_dialog import TagChoice, TagJobDialog, ask_tag_job
from tests.helpers.qt import next_dialog, next_emit


def planned(
    count: int, per_batch: int = 50, size: tuple[int, int] | None = None
) -> list[PlannedBatch]:
    lines = (
        build_tag_request(f"asset-{n}", f"https://img.example.test/fox/{n}.jpg")
        for n in range(count)
    )
    limits = PlanLimits(max_requests=per_batch)
    return list(plan_batches(lines, limits, keep_lines=False, estimate=sized_estimate(size)))


def test_the_plan_reads_as_batches_requests_tokens_and_cost_with_the_saving() -> None:
    batches = planned(120)
    summary = summarize(batches)
    size, tokens, cost = plan_lines(summary)
    assert size == "120 requests in 3 batches"
    assert tokens.startswith("about ") and "input tokens" in tokens
    assert summary.batch_usd is not None and summary.saving_usd
    assert cost.startswith("Estimated cost: $") and "saves $" in cost


def test_a_budget_stops_submitting_at_the_batch_that_would_pass_it() -> None:
    batches = planned(120)
    first = batches[0].cost.batch_usd
    assert first is not None
    assert batches_within(batches, None) == 3
    assert batches_within(batches, first * 1.5) == 1
    assert budget_line(batches, first * 1.5).startswith("Within $")
    assert "1 of 3 batches (50 assets)" in budget_line(batches, first * 1.5)
    assert budget_line(batches, 1000.0) == "The whole plan fits within $1,000.00."


async def test_yes_creates_the_job_with_the_budget_typed_in(qtbot: QtBot) -> None:
    batches = planned(120)
    opened = next_dialog()
    answer = asyncio.ensure_future(ask_tag_job(None, 120, batches))
    dialog = await opened
    assert isinstance(dialog, TagJobDialog) and dialog.isVisible()
    assert dialog.question.text() == "Tag 120 untagged assets as one job?"
    assert "120 requests in 3 batches" in dialog.plan.text()
    assert dialog.budget_note.text().startswith("No budget")

    dialog.budget.selectAll()
    qtbot.keyClicks(dialog.budget, "5")
    assert dialog.max_cost() == 5.0
    assert dialog.budget_note.text() == "The whole plan fits within $5.00."
    yes = dialog.buttons.button(QDialogButtonBox.StandardButton.Yes)
    qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
    assert await answer == TagChoice(True, 5.0)


async def test_escape_answers_no_and_nothing_is_chosen(qtbot: QtBot) -> None:
    opened = next_dialog()
    answer = asyncio.ensure_future(ask_tag_job(None, 10, planned(10)))
    dialog = await opened
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert await answer == TagChoice(False, None)


async def test_a_custom_size_plans_again_and_a_bad_one_says_what_is_wrong(qtbot: QtBot) -> None:
    async def replan(size: tuple[int, int] | None) -> list[PlannedBatch]:
        return planned(10, size=size)

    opened = next_dialog()
    answer = asyncio.ensure_future(ask_tag_job(None, 10, planned(10), replan=replan))
    dialog = await opened
    assert isinstance(dialog, TagJobDialog)
    costliest = image_tokens(DEFAULT_MODEL)
    assert costliest == 48_169
    assert dialog.size_note.text() == (
        "Image sizes unknown: each counted at the costliest, 48,169 tokens"
    )
    before = dialog.plan.text()
    field = dialog.image_size.lineEdit()

    field.selectAll()
    qtbot.keyClicks(field, "1024 by 768")
    assert "wants WIDTHxHEIGHT in pixels" in dialog.size_note.text()
    assert not dialog.yes.isEnabled()
    qtbot.mouseClick(dialog.yes, Qt.MouseButton.LeftButton)
    assert not answer.done() and dialog.isVisible()

    field.selectAll()
    replanned = next_emit(dialog.replanned)
    qtbot.keyClicks(field, "640x480")
    await replanned
    each = image_tokens(DEFAULT_MODEL, None, (640, 480))
    assert each < costliest
    assert dialog.size_note.text() == f"Images counted at 640 x 480: {each:,} tokens each"
    assert dialog.plan.text() != before and dialog.yes.isEnabled()
    qtbot.mouseClick(dialog.yes, Qt.MouseButton.LeftButton)
    assert await answer == TagChoice(True, None, (640, 480))
