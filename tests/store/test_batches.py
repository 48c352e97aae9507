"""Recording, listing and reading batches and assets through PostgresStore."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from batchmon.store import PendingBatch, PollRun
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, insert_assets, openai_batch

USER = str(uuid.uuid4())


async def test_pending_batches_is_the_monitoring_query(
    store: PostgresStore, database_url: str
) -> None:
    old = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    insert_assets(database_url, 3, batch_id="batch_b", created_at=old + timedelta(hours=1))
    insert_assets(database_url, 2, batch_id="batch_a", created_at=old)
    insert_assets(database_url, 4, batch_id="batch_done", status="completed")
    insert_assets(database_url, 5)  # never submitted

    assert await store.pending_batches() == [
        PendingBatch("batch_a", 2, old),
        PendingBatch("batch_b", 3, old + timedelta(hours=1)),
    ]


async def test_record_statuses_upserts_and_infers_the_owner_from_assets(
    store: PostgresStore, database_url: str
) -> None:
    insert_assets(database_url, 2, user_id=USER, batch_id="batch_1")
    created = 1_767_225_600  # 2026-01-01T00:00:00Z
    first = openai_batch("batch_1", "in_progress", created_at=created, total=2, model="gpt-4o")
    first["errors"] = {"object": "list", "data": [{"code": "x", "message": "y"}]}
    first["usage"] = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    first["metadata"] = {"retry_token": "t1"}
    assert await store.record_statuses([first, openai_batch("batch_2", "validating")]) == 2

    row = await store.get_batch("batch_1")
    assert row is not None
    assert (row.user_id, row.status, row.total, row.model) == (USER, "in_progress", 2, "gpt-4o")
    assert row.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert row.expires_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert row.errors == [{"code": "x", "message": "y"}]
    assert row.usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert row.metadata == {"retry_token": "t1"}
    assert row.last_polled_at is not None
    assert (row.asset_count, row.pending_assets, row.attempt) == (2, 2, 1)
    assert (await store.get_batch("batch_2")) is not None
    assert (await store.get_batch("batch_2")).user_id is None  # type: ignore[union-attr]

    done = openai_batch(
        "batch_1",
        "completed",
        created_at=created,
        total=2,
        completed=1,
        failed=1,
        output_file_id="file-out",
        error_file_id="",
        completed_at=created + 600,
    )
    assert await store.record_statuses([done]) == 1
    row = await store.get_batch("batch_1")
    assert row is not None
    assert (row.status, row.completed, row.failed, row.output_file_id) == (
        "completed",
        1,
        1,
        "file-out",
    )
    assert row.error_file_id is None  # OpenAI's "" means "no file"
    assert row.completed_at == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert row.model == "gpt-4o"  # not erased by an observation that lacks it


async def test_a_stale_observation_never_reopens_a_finished_batch(store: PostgresStore) -> None:
    await store.record_statuses([openai_batch("batch_1", "completed", total=3, completed=3)])
    assert await store.record_statuses([openai_batch("batch_1", "in_progress", total=3)]) == 0
    row = await store.get_batch("batch_1")
    assert row is not None and (row.status, row.completed) == ("completed", 3)


async def test_the_last_observation_of_a_batch_in_one_call_wins(store: PostgresStore) -> None:
    calls = [openai_batch("b", "validating"), openai_batch("b", "in_progress", total=9)]
    assert await store.record_statuses(calls) == 1
    row = await store.get_batch("b")
    assert row is not None and (row.status, row.total) == ("in_progress", 9)


async def test_list_batches_newest_first_with_asset_counts(
    store: PostgresStore, database_url: str
) -> None:
    now = int(datetime.now().timestamp())
    await store.record_statuses(
        [
            openai_batch("old", "completed", created_at=now - 3600),
            openai_batch("new", "in_progress", created_at=now),
        ]
    )
    insert_assets(database_url, 3, batch_id="new")
    insert_assets(database_url, 2, batch_id="new", status="completed")
    rows = await store.list_batches()
    assert [(r.id, r.asset_count, r.pending_assets) for r in rows] == [
        ("new", 5, 3),
        ("old", 0, 0),
    ]
    assert [r.id for r in await store.list_batches(limit=1)] == ["new"]
    assert await store.get_batch("missing") is None


async def test_mark_submitted_points_assets_at_the_new_batch(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 4, user_id=USER)
    execute(
        database_url,
        "update public.assets set auto_tag_status = 'failed', auto_tag_error = 'x' where id = %s",
        (ids[3],),
    )

    moved = await store.mark_submitted(openai_batch("batch_new", "validating"), ids)
    assert moved == 4
    assets = await store.batch_assets("batch_new")
    assert sorted(a.id for a in assets) == sorted(ids)
    assert {(a.status, a.batch_id, a.error, a.user_id) for a in assets} == {
        ("pending", "batch_new", None, USER)
    }
    row = await store.get_batch("batch_new")
    assert row is not None and row.user_id == USER and row.status == "validating"


async def test_a_second_submit_of_pending_assets_leaves_them_with_the_first_batch(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 3, user_id=USER)
    assert await store.mark_submitted(openai_batch("batch_first", "validating"), ids[:2]) == 2
    moved = await store.mark_submitted(openai_batch("batch_second", "validating"), ids)
    assert moved == 1  # only the asset that was not pending elsewhere
    assert sorted(a.id for a in await store.batch_assets("batch_first")) == sorted(ids[:2])
    assert [a.id for a in await store.batch_assets("batch_second")] == [ids[2]]
    # submitting the same batch again is harmless
    assert await store.mark_submitted(openai_batch("batch_first", "validating"), ids[:2]) == 2


async def test_batch_assets_and_assets_by_ids(store: PostgresStore, database_url: str) -> None:
    ids = insert_assets(database_url, 3, user_id=USER, batch_id="b1")
    other = insert_assets(database_url, 2, batch_id="b2")
    assert [a.id for a in await store.batch_assets("b1")] == ids
    assert len(await store.batch_assets("b1", limit=2)) == 2
    found = await store.assets_by_ids([ids[0], other[1], "not-a-uuid", str(uuid.uuid4())])
    assert sorted(a.id for a in found) == sorted([ids[0], other[1]])
    first = next(a for a in found if a.id == ids[0])
    assert first.image_url == "https://img.example.test/asset/0.jpg"
    assert (first.status, first.batch_id, first.tags, first.user_id) == (
        "pending",
        "b1",
        None,
        USER,
    )
    assert await store.assets_by_ids([]) == []


async def test_poll_runs_are_logged_and_listed_newest_first(store: PostgresStore) -> None:
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    first = PollRun(t0, t0 + timedelta(seconds=3), checked=12, applied=2, failed=0, worker_id="w1")
    second = PollRun(
        t0 + timedelta(minutes=1),
        None,
        checked=0,
        applied=0,
        failed=1,
        error="OpenAI unreachable",
        worker_id="w2",
    )
    id1 = await store.record_poll_run(first)
    id2 = await store.record_poll_run(second)
    assert id2 > id1
    runs = await store.recent_poll_runs()
    assert runs == [
        replace(second, id=id2),
        replace(first, id=id1),
    ]
    assert len(await store.recent_poll_runs(limit=1)) == 1
