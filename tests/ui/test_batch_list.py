"""The plain batch list: which rows appear, vanish or change, and which cells differ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batchmon.store.protocol import BatchRow
from batchmon.ui.batch_list import BatchItem, BatchList, Column, batch_from_row, changed_columns
from tests.helpers.batches import T0, make_batch


class Recorder:
    """Every callback of a BatchList, in order, plus the list length at the time."""

    def __init__(self, batches: BatchList) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.batches = batches
        for name in ("about_to_insert", "inserted", "about_to_remove", "removed", "changed"):
            getattr(batches, name).connect(
                lambda *args, _n=name: self.calls.append((_n, *args, len(self.batches)))
            )


def row(batch_id: str, status: str = "in_progress", **kw: Any) -> BatchRow:
    fields: dict[str, Any] = {
        "id": batch_id,
        "user_id": None,
        "status": status,
        "model": "gpt-4o-mini",
        "total": 10,
        "created_at": datetime.fromtimestamp(T0, UTC),
        "asset_count": 10,
        "pending_assets": 10,
    }
    fields.update(kw)
    return BatchRow(**fields)


def test_new_batches_arrive_as_one_insert_announced_before_and_after() -> None:
    batches = BatchList()
    rec = Recorder(batches)
    assert batches.upsert_batches([make_batch("a"), make_batch("b"), make_batch("c")]) == 3
    assert rec.calls == [("about_to_insert", 0, 2, 0), ("inserted", 0, 2, 3)]
    assert batches.ids() == ["a", "b", "c"]
    assert batches.row_of("c") == 2
    assert batches.get("b") is batches.item(1)


def test_a_change_reports_only_the_columns_that_differ() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch("a", completed=1), make_batch("b", completed=1)])
    rec = Recorder(batches)
    batches.upsert_batches([make_batch("b", completed=5)])
    assert rec.calls == [("changed", 1, frozenset({Column.PROGRESS, Column.TIME}), 2)]
    rec.calls.clear()
    batches.upsert_batches([make_batch("a", "finalizing", completed=10)])
    assert rec.calls == [
        ("changed", 0, frozenset({Column.STATUS, Column.PROGRESS, Column.TIME}), 2)
    ]


def test_an_identical_snapshot_is_not_a_change() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch("a", completed=3)])
    rec = Recorder(batches)
    assert batches.upsert_batches([make_batch("a", completed=3)]) == 0
    assert rec.calls == []


def test_a_stale_read_never_moves_a_batch_backwards() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch("a", "completed", completed=10)])
    rec = Recorder(batches)
    batches.upsert_batches([make_batch("a", "in_progress", completed=4)])
    batches.upsert_batches([make_batch("a", "completed", completed=9)])
    assert rec.calls == []
    assert batches.get("a") is not None and batches.get("a").status == "completed"  # type: ignore[union-attr]


def test_store_rows_add_asset_counts_and_lineage_but_keep_the_fresher_live_status() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch("a", "completed", completed=10)])
    rec = Recorder(batches)
    batches.upsert_rows([row("a", "in_progress", asset_count=10, pending_assets=0, retry_of="z")])
    item = batches.get("a")
    assert item is not None
    assert item.status == "completed" and item.progress.completed == 10
    assert item.asset_count == 10 and item.retry_of == "z"
    assert rec.calls == [("changed", 0, frozenset({Column.ASSETS}), 1)]
    # A later poll keeps what only the store knows.
    batches.upsert_batches([make_batch("a", "completed", completed=10, output_file_id="f")])
    kept = batches.get("a")
    assert kept is not None and kept.asset_count == 10 and kept.retry_of == "z"


def test_a_change_no_column_shows_is_still_announced_on_the_id_column() -> None:
    old = BatchItem(make_batch("a", "completed", completed=10))
    new = BatchItem(make_batch("a", "completed", completed=10), retried_by="b")
    assert changed_columns(old, new) == frozenset({Column.ID})
    assert (
        changed_columns(old, BatchItem(make_batch("a", "completed", completed=10))) == frozenset()
    )


def test_usage_changes_the_cost_cell() -> None:
    old = BatchItem(make_batch("a", "completed", completed=10))
    new = BatchItem(
        make_batch(
            "a", "completed", completed=10, usage={"input_tokens": 10**6, "output_tokens": 0}
        )
    )
    assert changed_columns(old, new) == frozenset({Column.COST})
    assert new.cost.batch_usd is not None and new.cost.saving_usd is not None


def test_load_rows_mirrors_a_complete_snapshot_removing_runs_from_the_end() -> None:
    batches = BatchList()
    batches.upsert_rows([row(i) for i in "abcdef"])
    rec = Recorder(batches)
    batches.load_rows([row("a"), row("d"), row("g")])
    assert batches.ids() == ["a", "d", "g"]
    assert [c for c in rec.calls if c[0] != "changed"] == [
        ("about_to_insert", 6, 6, 6),
        ("inserted", 6, 6, 7),
        ("about_to_remove", 4, 5, 7),
        ("removed", 4, 5, 5),
        ("about_to_remove", 1, 2, 5),
        ("removed", 1, 2, 3),
    ]
    assert [batches.row_of(i) for i in "adg"] == [0, 1, 2]
    assert batches.row_of("b") is None and "b" not in batches


def test_remove_and_clear() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch(i) for i in "abc"])
    assert batches.remove("b") is True
    assert batches.remove("b") is False
    assert batches.ids() == ["a", "c"] and batches.row_of("c") == 1
    batches.clear()
    assert len(batches) == 0


def test_sync_results_feed_the_list() -> None:
    from batchmon.engine.sync import SyncResult

    batches = BatchList()
    first = make_batch("a", "in_progress", completed=2)
    batches.apply_sync(SyncResult(events=[], batches={"a": first}, requests=1))
    later = make_batch("a", "completed", completed=10)
    assert batches.apply_sync(SyncResult(events=[], batches={"a": later}, requests=1)) == 1
    item = batches.get("a")
    assert item is not None and item.status == "completed"


def test_a_failing_listener_does_not_silence_the_others() -> None:
    batches = BatchList()
    seen: list[int] = []

    def broken(first: int, last: int) -> None:
        raise RuntimeError("boom")

    batches.inserted.connect(broken)
    batches.inserted.connect(lambda first, last: seen.append(last))
    batches.upsert_batches([make_batch("a")])
    assert seen == [0]


def test_batch_from_row_keeps_every_figure_and_tolerates_new_statuses() -> None:
    at = datetime.fromtimestamp(T0 + 60, UTC)
    stored = row(
        "a",
        "completed",
        completed=7,
        failed=3,
        completed_at=at,
        usage={"input_tokens": 5, "output_tokens": 6},
        errors=[{"code": "x", "message": "bad", "line": 3}],
        metadata={"k": "v"},
    )
    batch = batch_from_row(stored)
    assert (batch.id, batch.status, batch.created_at, batch.completed_at) == (
        "a",
        "completed",
        T0,
        T0 + 60,
    )
    assert batch.request_counts is not None and batch.request_counts.failed == 3
    assert batch.usage is not None and batch.usage.output_tokens == 6
    assert batch.errors is not None and batch.errors.data and batch.errors.data[0].line == 3
    odd = batch_from_row(row("b", "some_new_status", usage={"input_tokens": "many"}))
    assert odd.status == "some_new_status" and odd.usage is None


def test_one_update_call_reports_all_its_changes_in_row_order_after_each_row() -> None:
    batches = BatchList()
    batches.upsert_batches([make_batch(i, completed=1) for i in "abcd"])
    rec = Recorder(batches)
    batches.changed_many.connect(lambda changes: rec.calls.append(("many", changes)))
    batches.upsert_batches(
        [
            make_batch("d", completed=2),
            make_batch("b", "finalizing", completed=10),
            make_batch("a", completed=1),  # unchanged: not reported
            make_batch("e"),
        ]
    )
    progress_cells = frozenset({Column.PROGRESS, Column.TIME})
    assert rec.calls == [
        ("changed", 3, progress_cells, 4),
        ("changed", 1, frozenset({Column.STATUS, Column.PROGRESS, Column.TIME}), 4),
        (
            "many",
            [(1, frozenset({Column.STATUS, Column.PROGRESS, Column.TIME})), (3, progress_cells)],
        ),
        ("about_to_insert", 4, 4, 4),
        ("inserted", 4, 4, 5),
    ]


def test_cell_keys_follow_what_each_column_shows() -> None:
    base = BatchItem(make_batch("a", completed=1, total=10), asset_count=10, pending_assets=9)
    same = BatchItem(make_batch("a", completed=1, total=10), asset_count=10, pending_assets=9)
    assert changed_columns(base, same) == frozenset()
    fewer_pending = BatchItem(base.batch, asset_count=10, pending_assets=8)
    assert changed_columns(base, fewer_pending) == frozenset({Column.ASSETS})
    other_model = BatchItem(make_batch("a", completed=1, total=10, model="gpt-5"), 10, 9)
    # No usage, so no cost either way: only the model cell differs.
    assert changed_columns(base, other_model) == frozenset({Column.MODEL})
    expires = BatchItem(make_batch("a", completed=1, total=10, expires_at=T0 + 86400), 10, 9)
    assert changed_columns(base, expires) == frozenset({Column.ID})
