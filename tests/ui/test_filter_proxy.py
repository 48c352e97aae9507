"""Status filter, search box and sorting over the batch table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from batchmon.ui.batch_list import BatchList, Column
from batchmon.ui.filter_proxy import BatchFilterProxy
from batchmon.ui.table_model import BatchTableModel
from tests.helpers.batches import make_batch

Fatal = QAbstractItemModelTester.FailureReportingMode.Fatal


@pytest.fixture
def proxy(qapp: Any) -> Iterator[BatchFilterProxy]:
    model = BatchTableModel(BatchList())
    model.batch_list.upsert_batches(
        [
            make_batch("batch_run", "in_progress", completed=5, model="gpt-4o-mini"),
            make_batch("batch_done", "completed", completed=10, model="gpt-4.1"),
            make_batch("batch_bad", "failed", total=0, model="gpt-4o-mini"),
            make_batch("batch_late", "expired", completed=3, model="gpt-5"),
        ]
    )
    p = BatchFilterProxy()
    p.setSourceModel(model)
    tester = QAbstractItemModelTester(p, Fatal)
    yield p
    del tester


def shown(proxy: BatchFilterProxy) -> list[str]:
    return [proxy.index(r, int(Column.ID)).data() for r in range(proxy.rowCount())]


def test_everything_shows_without_a_filter(proxy: BatchFilterProxy) -> None:
    assert sorted(shown(proxy)) == ["batch_bad", "batch_done", "batch_late", "batch_run"]


def test_status_filter(proxy: BatchFilterProxy) -> None:
    proxy.set_statuses({"failed", "expired"})
    assert sorted(shown(proxy)) == ["batch_bad", "batch_late"]
    assert proxy.statuses == {"failed", "expired"}
    proxy.set_statuses(None)
    assert len(shown(proxy)) == 4


def test_search_matches_every_word_in_id_model_or_status(proxy: BatchFilterProxy) -> None:
    proxy.set_search_text("4O-MINI")
    assert sorted(shown(proxy)) == ["batch_bad", "batch_run"]
    proxy.set_search_text("mini  progress")  # "In progress" is the status label
    assert shown(proxy) == ["batch_run"]
    proxy.set_search_text("_done")
    assert shown(proxy) == ["batch_done"]
    proxy.set_search_text("")
    assert len(shown(proxy)) == 4


def test_filter_and_search_combine(proxy: BatchFilterProxy) -> None:
    proxy.set_statuses({"failed", "in_progress"})
    proxy.set_search_text("bad")
    assert shown(proxy) == ["batch_bad"]


def test_a_row_leaves_the_filter_when_its_status_changes(proxy: BatchFilterProxy) -> None:
    proxy.set_statuses({"in_progress"})
    assert shown(proxy) == ["batch_run"]
    source = proxy.sourceModel()
    assert isinstance(source, BatchTableModel)
    source.batch_list.upsert_batches([make_batch("batch_run", "finalizing", completed=10)])
    assert shown(proxy) == []


def test_sorting_by_status_puts_problems_first(proxy: BatchFilterProxy) -> None:
    proxy.sort(int(Column.STATUS), Qt.SortOrder.AscendingOrder)
    assert shown(proxy) == ["batch_bad", "batch_late", "batch_run", "batch_done"]
    proxy.sort(int(Column.PROGRESS), Qt.SortOrder.DescendingOrder)
    assert shown(proxy)[0] == "batch_done"


def test_item_for_maps_a_proxy_row_to_its_batch(proxy: BatchFilterProxy) -> None:
    proxy.set_search_text("late")
    item = proxy.item_for(proxy.index(0, int(Column.COST)))
    assert item is not None and item.id == "batch_late"
    assert proxy.item_for(proxy.index(5, 0)) is None


def test_search_words_are_literal_text_not_patterns(proxy: BatchFilterProxy) -> None:
    proxy.set_search_text("gpt-4.1")
    assert shown(proxy) == ["batch_done"]
    proxy.set_search_text("4.1 (")
    assert shown(proxy) == []
    proxy.set_search_text(".*")
    assert shown(proxy) == []


@pytest.mark.parametrize(
    ("statuses", "text"),
    [
        (None, ""),
        ({"failed"}, ""),
        ({"completed", "in_progress"}, "gpt"),
        (None, "BATCH_ mini"),
        ({"expired"}, "expired late"),
        ({"cancelled"}, ""),
        (None, "progress run"),
    ],
)
def test_the_table_shows_exactly_what_accepts_says(
    proxy: BatchFilterProxy, statuses: set[str] | None, text: str
) -> None:
    proxy.set_statuses(statuses)
    proxy.set_search_text(text)
    source = proxy.sourceModel()
    assert isinstance(source, BatchTableModel)
    expected = [item.id for item in source.batch_list if proxy.accepts(item)]
    assert sorted(shown(proxy)) == sorted(expected)


def test_a_sorted_table_moves_a_row_whose_sort_key_changes(proxy: BatchFilterProxy) -> None:
    proxy.sort(int(Column.PROGRESS), Qt.SortOrder.AscendingOrder)
    assert shown(proxy) == ["batch_bad", "batch_late", "batch_run", "batch_done"]
    source = proxy.sourceModel()
    assert isinstance(source, BatchTableModel)
    moved: list[str] = []
    proxy.layoutChanged.connect(lambda *_: moved.append("layout"))
    source.batch_list.upsert_batches([make_batch("batch_late", "expired", completed=9)])
    assert shown(proxy) == ["batch_bad", "batch_run", "batch_late", "batch_done"]
    assert moved == ["layout"]
    source.batch_list.upsert_batches([make_batch("batch_run", "in_progress", completed=6)])
    assert shown(proxy) == ["batch_bad", "batch_run", "batch_late", "batch_done"]
    proxy.sort(int(Column.ID), Qt.SortOrder.DescendingOrder)
    assert shown(proxy) == ["batch_run", "batch_late", "batch_done", "batch_bad"]
