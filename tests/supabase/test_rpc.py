"""The Store methods through PostgREST RPC, with row-level security really enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from batchmon.store import (
    ApplyCounts,
    PermissionDenied,
    PollRun,
    ResultRow,
    RetryRefused,
    Store,
    StoreError,
)
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import fetch_all, insert_assets, openai_batch
from tests.helpers.supabase import StoreFactory, Users
from tests.supabase_gateway import Gateway

NOW = timedelta(0)
LEASE = timedelta(minutes=5)
HOUR_AGO = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())


async def submit(
    store: SupabaseStore, database_url: str, user_id: str, batch_id: str, n: int = 3
) -> list[str]:
    ids = insert_assets(database_url, n, user_id=user_id)
    assert await store.mark_submitted(openai_batch(batch_id, created_at=HOUR_AGO), ids) == n
    return ids


async def test_each_user_sees_only_their_own_batches_and_assets(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    assert isinstance(alice_store, Store)  # the same protocol as PostgresStore
    alice_ids = await submit(alice_store, database_url, users.alice.id, "batch_a")
    await submit(bob_store, database_url, users.bob.id, "batch_b", n=1)

    assert [(p.batch_id, p.asset_count) for p in await alice_store.pending_batches()] == [
        ("batch_a", 3)
    ]
    assert [b.id for b in await bob_store.list_batches()] == ["batch_b"]
    row = await alice_store.get_batch("batch_a")
    assert row is not None and row.user_id == users.alice.id and row.pending_assets == 3
    assert await bob_store.get_batch("batch_a") is None
    assert await bob_store.batch_assets("batch_a") == []
    assert await bob_store.assets_by_ids(alice_ids) == []
    assert {a.id for a in await alice_store.assets_by_ids(alice_ids)} == set(alice_ids)


async def test_a_user_cannot_claim_another_users_batches(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    await submit(alice_store, database_url, users.alice.id, "batch_a")

    assert await bob_store.claim_due("bob-desk", min_age=NOW, interval=NOW, lease=LEASE) == []
    assert await alice_store.claim_due("alice-desk", min_age=NOW, interval=NOW, lease=LEASE) == [
        "batch_a"
    ]
    assert await alice_store.release_claims("alice-desk", ["batch_a"]) == 1


async def test_a_user_cannot_apply_results_to_another_users_batch(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = await submit(alice_store, database_url, users.alice.id, "batch_a", n=2)

    counts = await bob_store.apply_results("batch_a", [ResultRow(i, True, ["cat"]) for i in ids])

    assert counts == ApplyCounts(completed=0, failed=0, skipped=2)
    statuses = fetch_all(
        database_url, "select auto_tag_status from assets where id = any(%s)", (ids,)
    )
    assert {s for (s,) in statuses} == {"pending"}


async def test_a_user_cannot_retry_another_users_batch(
    alice_store: SupabaseStore, bob_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = await submit(alice_store, database_url, users.alice.id, "batch_a")
    with pytest.raises(StoreError, match="not recorded"):
        await bob_store.begin_retry("batch_a", openai_batch("batch_bobs_retry"), ids)
    assert fetch_all(
        database_url, "select retried_by from openai_batches where id = 'batch_a'"
    ) == [(None,)]


async def test_results_are_applied_in_chunks_and_idempotently(
    open_store: StoreFactory, users: Users, gateway: Gateway, database_url: str
) -> None:
    from tests.helpers.supabase import PASSWORD

    store = await open_store(chunk_rows=2)
    await store.sign_in(users.alice.email, PASSWORD)
    ids = await submit(store, database_url, users.alice.id, "batch_a", n=5)
    rows = [
        ResultRow(
            i, ok=n != 4, tags=["dog"] if n != 4 else None, error="refused" if n == 4 else None
        )
        for n, i in enumerate(ids)
    ]

    async def stream() -> AsyncIterator[
        ResultRow
    ]:  # the engine streams results as it reads the output file
        for row in rows:
            yield row

    first = await store.apply_results("batch_a", stream())
    calls = gateway.rpc_calls.count("apply_batch_results")
    again = await store.apply_results("batch_a", rows)

    assert first == ApplyCounts(completed=4, failed=1, skipped=0)
    assert calls == 3  # 2 + 2 + 1 rows
    assert again == ApplyCounts(completed=0, failed=0, skipped=5)
    tagged = fetch_all(database_url, "select tags from assets where id = %s", (ids[0],))
    assert tagged == [(["dog"],)]


async def test_finish_apply_fails_the_unreturned_assets_once(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = await submit(alice_store, database_url, users.alice.id, "batch_a", n=3)
    await alice_store.apply_results("batch_a", [ResultRow(ids[0], True, ["x"])])

    assert await alice_store.finish_apply("batch_a", unreturned_reason="no result") == ApplyCounts(
        failed=2
    )
    row = await alice_store.get_batch("batch_a")
    assert row is not None and row.applied_at is not None
    assert await alice_store.finish_apply("batch_a", unreturned_reason="no result") == ApplyCounts()


async def test_mark_batch_failed_fails_every_pending_asset(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    await submit(alice_store, database_url, users.alice.id, "batch_a", n=2)
    assert await alice_store.mark_batch_failed("batch_a", "input rejected") == ApplyCounts(failed=2)
    assert {a.error for a in await alice_store.batch_assets("batch_a")} == {"input rejected"}


async def test_a_second_retry_is_refused_and_names_the_first(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    ids = await submit(alice_store, database_url, users.alice.id, "batch_a")
    await alice_store.record_statuses([openai_batch("batch_a", "expired")])

    link = await alice_store.begin_retry("batch_a", openai_batch("batch_r1"), ids)
    again = await alice_store.begin_retry("batch_a", openai_batch("batch_r1"), ids)
    with pytest.raises(RetryRefused) as refused:
        await alice_store.begin_retry("batch_a", openai_batch("batch_r2"), ids)

    assert (link.linked, link.moved_assets) == (True, 3)
    assert (again.linked, again.existing_retry) == (False, "batch_r1")
    assert (refused.value.batch_id, refused.value.retried_by) == ("batch_a", "batch_r1")
    assert [p.batch_id for p in await alice_store.pending_batches()] == ["batch_r1"]


async def test_record_statuses_updates_counts(
    alice_store: SupabaseStore, users: Users, database_url: str
) -> None:
    await submit(alice_store, database_url, users.alice.id, "batch_a")
    n = await alice_store.record_statuses(
        [openai_batch("batch_a", "finalizing", total=3, completed=2, failed=1)]
    )
    row = await alice_store.get_batch("batch_a")
    assert n == 1
    assert row is not None and (row.status, row.completed, row.failed) == ("finalizing", 2, 1)
    assert await alice_store.record_statuses([]) == 0


async def test_poll_runs_are_written_by_servers_only(
    alice_store: SupabaseStore, open_store: StoreFactory, gateway: Gateway
) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    run = PollRun(
        started,
        started + timedelta(seconds=3),
        checked=4,
        applied=1,
        failed=0,
        worker_id="worker-1",
    )
    with pytest.raises(PermissionDenied):
        await alice_store.record_poll_run(run)

    server = await open_store(key=gateway.service_role_key, allow_service_role=True)
    run_id = await server.record_poll_run(run)

    [recorded] = await alice_store.recent_poll_runs()
    assert recorded.id == run_id
    assert (recorded.started_at, recorded.checked, recorded.worker_id) == (started, 4, "worker-1")
