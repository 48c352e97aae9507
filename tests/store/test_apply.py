"""Applying results: idempotent, chunked through COPY, recorded in asset_results."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from batchmon.store import ApplyCounts, ResultRow, StoreError
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import as_user, execute, fetch_all, insert_assets, openai_batch

USER = str(uuid.uuid4())


def _results(ids: list[str]) -> list[ResultRow]:
    """Even positions succeed with two tags, odd ones fail with a reason."""
    return [
        ResultRow(a, True, tags=[f"tag-{n}", "shared, with comma"])
        if n % 2 == 0
        else ResultRow(a, False, error=f"line {n}: model refused")
        for n, a in enumerate(ids)
    ]


def _history(database_url: str) -> dict[str, int]:
    rows = fetch_all(
        database_url, "select asset_id::text, count(*) from public.asset_results group by 1"
    )
    return dict(rows)


async def test_apply_writes_tags_and_reasons_and_a_second_apply_changes_nothing(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 6, user_id=USER, batch_id="b1")
    await store.record_statuses([openai_batch("b1", "completed")])

    first = await store.apply_results("b1", _results(ids))
    assert first == ApplyCounts(completed=3, failed=3, skipped=0)
    assets = {a.id: a for a in await store.batch_assets("b1")}
    assert assets[ids[0]].status == "completed"
    assert assets[ids[0]].tags == ["tag-0", "shared, with comma"]
    assert assets[ids[0]].tagged_at is not None and assets[ids[0]].error is None
    assert (assets[ids[1]].status, assets[ids[1]].error) == ("failed", "line 1: model refused")
    before = fetch_all(database_url, "select * from public.assets order by id")

    again = await store.apply_results("b1", _results(ids))
    assert again == ApplyCounts(completed=0, failed=0, skipped=6)
    assert fetch_all(database_url, "select * from public.assets order by id") == before
    assert _history(database_url) == dict.fromkeys(ids, 1)
    history = fetch_all(
        database_url,
        "select batch_id, user_id::text, status, error from public.asset_results "
        "where asset_id = %s",
        (ids[1],),
    )
    assert history == [("b1", USER, "failed", "line 1: model refused")]


async def test_rows_for_other_batches_unknown_or_malformed_ids_are_skipped(
    store: PostgresStore, database_url: str
) -> None:
    mine = insert_assets(database_url, 2, batch_id="b1")
    others = insert_assets(database_url, 1, batch_id="b2")
    rows = [
        ResultRow(mine[0], True, tags=["a"]),
        ResultRow(mine[0], False, error="duplicate line"),  # the first line for an id wins
        ResultRow(others[0], True, tags=["stolen"]),
        ResultRow(str(uuid.uuid4()), True, tags=["ghost"]),
        ResultRow("request-7", True, tags=["not a uuid"]),
        ResultRow(mine[1].upper(), False, error=""),
    ]
    counts = await store.apply_results("b1", rows)
    assert counts == ApplyCounts(completed=1, failed=1, skipped=4)
    found = {a.id: a for a in await store.assets_by_ids([*mine, *others])}
    assert (found[mine[0]].status, found[mine[0]].tags) == ("completed", ["a"])
    assert (found[mine[1]].status, found[mine[1]].error) == ("failed", "failed without a reason")
    assert (found[others[0]].status, found[others[0]].tags) == ("pending", None)


async def test_many_rows_stream_in_chunks_from_an_async_source(database_url: str) -> None:
    count = 2_345
    ids = insert_assets(database_url, count, batch_id="big")
    store = await PostgresStore.open(database_url, chunk_size=500)
    pulled = 0

    async def source() -> AsyncIterator[ResultRow]:
        nonlocal pulled
        for row in _results(ids):
            pulled += 1
            yield row

    try:
        counts = await store.apply_results("big", source())
    finally:
        await store.close()
    assert pulled == count
    assert counts == ApplyCounts(completed=(count + 1) // 2, failed=count // 2, skipped=0)
    statuses = fetch_all(
        database_url,
        "select auto_tag_status, count(*) from public.assets group by 1 order by 1",
    )
    assert statuses == [("completed", (count + 1) // 2), ("failed", count // 2)]
    assert set(_history(database_url).values()) == {1}


async def test_concurrent_appliers_of_one_batch_apply_each_asset_once(
    database_url: str,
) -> None:
    ids = insert_assets(database_url, 3_000, batch_id="race")
    stores = [await PostgresStore.open(database_url, chunk_size=700) for _ in range(3)]
    try:
        results = await asyncio.gather(*(s.apply_results("race", _results(ids)) for s in stores))
    finally:
        for s in stores:
            await s.close()
    total = sum(results, ApplyCounts())
    assert total.completed + total.failed == 3_000
    assert total.skipped == 2 * 3_000
    history = _history(database_url)
    assert len(history) == 3_000 and set(history.values()) == {1}


async def test_finish_apply_fails_what_got_no_result_and_sets_applied_at_once(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 4, batch_id="b1")
    await store.record_statuses([openai_batch("b1", "expired")])
    await store.apply_results("b1", [ResultRow(ids[0], True, tags=["x"])])

    counts = await store.finish_apply("b1", unreturned_reason="no result returned")
    assert counts == ApplyCounts(completed=0, failed=3, skipped=0)
    row = await store.get_batch("b1")
    assert row is not None and row.applied_at is not None and row.pending_assets == 0
    statuses = sorted((a.status, a.error) for a in await store.batch_assets("b1"))
    assert statuses == [("completed", None)] + [("failed", "no result returned")] * 3

    assert await store.finish_apply("b1", unreturned_reason="again") == ApplyCounts()
    again = await store.get_batch("b1")
    assert again is not None and again.applied_at == row.applied_at
    assert set(_history(database_url).values()) == {1}


async def test_mark_batch_failed_fails_every_pending_asset(
    store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 3, batch_id="bad")
    insert_assets(database_url, 2, batch_id="fine")
    await store.record_statuses([openai_batch("bad", "failed")])
    reason = "batch failed validation: invalid JSONL on line 1"
    assert await store.mark_batch_failed("bad", reason) == ApplyCounts(failed=3)
    assert {(a.status, a.error) for a in await store.assets_by_ids(ids)} == {("failed", reason)}
    row = await store.get_batch("bad")
    assert row is not None and row.applied_at is not None
    assert [(p.batch_id, p.asset_count) for p in await store.pending_batches()] == [("fine", 2)]


async def test_a_failing_chunk_keeps_earlier_chunks_and_a_rerun_finishes_the_rest(
    database_url: str,
) -> None:
    ids = insert_assets(database_url, 30, batch_id="b1")
    rows = _results(ids)
    broken = [*rows[:20], ResultRow(ids[20], None, tags=["x"]), *rows[21:]]  # type: ignore[arg-type]
    store = await PostgresStore.open(database_url, chunk_size=10, max_size=2)
    try:
        with pytest.raises(StoreError):
            await store.apply_results("b1", broken)
        # Chunks 1 and 2 committed; chunk 3 (the bad row's) changed nothing.
        assert len(_history(database_url)) == 20
        assert [p.asset_count for p in await store.pending_batches()] == [10]

        counts = await store.apply_results("b1", rows)
        assert counts == ApplyCounts(completed=5, failed=5, skipped=20)
        assert set(_history(database_url).values()) == {1}
        assert len(_history(database_url)) == 30
    finally:
        await store.close()


def test_a_session_another_role_started_applies_with_statistics_and_no_warning(
    database_url: str,
) -> None:
    # PostgREST's pooled sessions switch roles per request: the staging table belongs to
    # the role that first created it, and ANALYZE used to be skipped with a warning.
    ids = insert_assets(database_url, 4, user_id=USER, batch_id="batch_roles")
    execute(
        database_url,
        "insert into public.openai_batches (id, user_id, status) values (%s, %s, 'completed')",
        ("batch_roles", USER),
    )
    notices: list[str] = []
    rows = [{"asset_id": i, "ok": True, "tags": ["x"]} for i in ids]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        counts = []
        for role, chunk in (("service_role", rows[:2]), ("authenticated", rows[2:])):
            with as_user(conn, USER, role=role):
                counts += conn.execute(
                    "select * from public.apply_batch_results('batch_roles', %s::jsonb)",
                    (json.dumps(chunk),),
                ).fetchall()
        analyzed = conn.execute(
            "select count(*) from pg_stats where tablename = 'batchmon_apply_rows'"
        ).fetchone()

    assert counts == [(2, 0, 0), (2, 0, 0)]
    assert notices == []
    assert analyzed == (1,)  # asset_id's statistics, gathered by the second role too
