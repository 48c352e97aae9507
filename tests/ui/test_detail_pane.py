"""The detail pane shows why a batch ended the way it did, from plain store rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from batchmon.core.status import entered_at_field
from batchmon.store.protocol import AssetRow, BatchRow
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.detail_pane import BatchDetail, DetailPane, format_time, group_errors
from batchmon.ui.progress_delegate import COMPLETED_COLOR, FAILED_COLOR
from batchmon.ui.table_model import progress_text
from batchmon.ui.time_base import TimeBase

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def pane(qtbot: QtBot) -> DetailPane:
    """A detail pane, closed with the test."""
    widget = DetailPane()
    qtbot.addWidget(widget)
    return widget


def _texts(tree: object) -> list[str]:
    out = []
    for i in range(tree.topLevelItemCount()):  # type: ignore[attr-defined]
        item = tree.topLevelItem(i)  # type: ignore[attr-defined]
        out.append(" | ".join(item.text(c) for c in range(item.columnCount())))
        out.extend(
            " | ".join(item.child(j).text(c) for c in range(3)) for j in range(item.childCount())
        )
    return out


def _row(
    batch_id: str, status: str, *, entered: timedelta | None = None, total: int = 0, **fields: Any
) -> BatchRow:
    """A stored batch row created at ``T0``, with only what the test is about.

    ``entered``: how long after ``T0`` it reached ``status`` (its ``*_at`` field). It has
    one asset a request unless ``asset_count`` says otherwise.
    """
    if entered is not None:
        fields[str(entered_at_field(status))] = T0 + entered
    fields.setdefault("asset_count", total)
    return BatchRow(id=batch_id, user_id=None, status=status, created_at=T0, total=total, **fields)


def _rejected_row(**changes: Any) -> BatchRow:
    """A batch OpenAI rejected at validation 12 s after it was created."""
    row = _row(
        "batch_failed",
        "failed",
        entered=timedelta(seconds=12),
        errors=[{"code": "invalid_json_line", "line": 3, "message": "not JSON", "param": None}],
        asset_count=6,
    )
    return replace(row, **changes)


def test_validation_errors_with_line_numbers_and_lineage(pane: DetailPane, qtbot: QtBot) -> None:
    row = _rejected_row(retried_by="batch_retry")
    pane.show_detail(BatchDetail(row), can_retry=False, can_cancel=False)
    assert pane.title.text() == "batch_failed"
    assert "Failed validation" in pane.summary.text()
    errors = _texts(pane.errors)
    assert any("line 3" in e and "invalid_json_line" in e and "not JSON" in e for e in errors)
    assert pane.tabs.currentWidget() is pane.errors, "a failed batch opens on its errors"
    timeline = _texts(pane.timeline)
    assert timeline[0].startswith("Created") and timeline[1].startswith("Failed")
    assert "12s" in timeline[1]
    assert "batch_retry" in pane.lineage.text()
    with qtbot.waitSignal(pane.batch_link_activated) as link:
        pane.lineage.linkActivated.emit("batch_retry")
    assert link.args == ["batch_retry"]
    assert not pane.retry_button.isVisible() and not pane.cancel_button.isVisible()


def test_error_file_groups_assets_and_copy(pane: DetailPane, qtbot: QtBot) -> None:
    pane.show()
    groups = group_errors(
        [("rate_limit", "a1: slow down")] * 3
        + [("server_error", "a2: boom"), ("rate_limit", "a4: again")]
    )
    assert [(g.code, g.count) for g in groups] == [("rate_limit", 4), ("server_error", 1)]
    assert len(groups[0].samples) == 3
    row = _row(
        "batch_partial",
        "completed",
        entered=timedelta(minutes=3),
        total=10,
        completed=5,
        failed=5,
        asset_count=2,
    )
    assets = [
        AssetRow(
            "a1", None, "https://x/1.jpg", "completed", "batch_partial", ["cat", "sofa"], None
        ),
        AssetRow("a2", None, "https://x/2.jpg", "failed", "batch_partial", None, "server_error"),
    ]
    pane.show_detail(BatchDetail(row, assets, groups), can_retry=True, can_cancel=False)
    assert "5 failed" in pane.summary.text()
    assert pane.tabs.tabText(1) == "Errors (5)"
    errors = _texts(pane.errors)
    assert errors[0].startswith("4 lines | rate_limit")
    asset_rows = _texts(pane.assets)
    assert "a1 | completed | cat, sofa" in asset_rows
    assert "a2 | failed | server_error" in asset_rows
    assert pane.retry_button.isVisible()
    with qtbot.waitSignal(pane.retry_requested) as retry:
        pane.retry_button.click()
    assert retry.args == ["batch_partial"]
    pane.copy_button.click()
    assert QGuiApplication.clipboard().text() == "batch_partial"


def test_facts_say_whether_results_still_wait(pane: DetailPane) -> None:
    """A finished, applied batch must not read as if its assets were still pending."""
    row = _row("batch_done", "completed", entered=timedelta(minutes=5), total=16, completed=16)
    pane.show_detail(BatchDetail(row), can_retry=False, can_cancel=False)
    assert "16 assets, all results applied" in pane.facts.text()
    pane.show_detail(BatchDetail(replace(row, pending_assets=4)), can_retry=False, can_cancel=False)
    assert "16 assets (4 awaiting results)" in pane.facts.text()


def _bar_colours(pane: DetailPane) -> set[str]:
    image = pane.progress.grab().toImage()
    return {image.pixelColor(x, image.height() // 2).name() for x in range(0, image.width(), 2)}


def test_the_bar_shows_the_tables_numbers_with_the_failed_part_in_red(pane: DetailPane) -> None:
    """The pane draws what the table draws, from the table's (newer) item."""
    pane.resize(400, 500)
    pane.show()
    stored = _row("batch_run", "in_progress", entered=timedelta(seconds=5), total=20, completed=3)
    live = BatchItem.from_row(replace(stored, completed=1, failed=3))
    pane.show_detail(BatchDetail(stored), can_retry=False, can_cancel=True, live=live)
    assert pane.progress.counts == (1, 3, 20)
    assert pane.progress.text == progress_text(live) == "4/20 · 3 failed"
    assert "1 completed  ·  3 failed  ·  16 not run" in pane.counts.text()
    assert "4 of 20 done" in pane.summary.text()
    colours = _bar_colours(pane)
    assert {FAILED_COLOR.lower(), COMPLETED_COLOR.lower()} <= colours

    done = replace(stored, status="completed", completed=13, failed=3, total=16)
    pane.show_detail(BatchDetail(done), can_retry=True, can_cancel=False)
    assert pane.progress.text == "16/16 · 3 failed"
    assert FAILED_COLOR.lower() in _bar_colours(pane), "3 failed of 16 is not all green"


def test_a_rejected_batch_says_rejected_not_not_counted_yet(pane: DetailPane) -> None:
    row = _rejected_row(
        errors=[{"code": "invalid_json_line", "line": n, "message": "x"} for n in (1, 2)]
    )
    pane.show_detail(BatchDetail(row), can_retry=True, can_cancel=False)
    assert pane.progress.text == "rejected: 2 errors"
    assert pane.counts.text() == "No request ran: OpenAI rejected the input file."
    assert pane.retry_button.text() == "Resubmit all requests"
    validating = replace(row, status="validating", failed_at=None, errors=None)
    pane.show_detail(BatchDetail(validating), can_retry=False, can_cancel=True)
    assert pane.progress.text == "not counted yet"
    assert pane.retry_button.text() == "Retry failed requests"


def test_timeline_times_are_wall_clock_times_on_the_demo_clock(pane: DetailPane) -> None:
    pane.set_time_base(TimeBase(to_wall=lambda s: s - 3600))
    row = _row("b", "validating", total=0)
    pane.show_detail(BatchDetail(row), can_retry=False, can_cancel=True)
    assert _texts(pane.timeline)[0] == f"Created | {format_time(T0 - timedelta(hours=1))} | "
