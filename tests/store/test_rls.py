"""Row-level security: each signed-in user sees and changes only their own rows;
anonymous callers get nothing. Calls run as Supabase runs them: ``set local role``
plus JWT claims, through the same SQL functions the stores use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from batchmon.store import PermissionDenied
from batchmon.store.errors import translate
from tests.fixtures.postgres import as_user, fetch_all, insert_assets, openai_batch

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def two_users(database_url: str, conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """Alice and Bob each have a batch with two pending assets, recorded by the worker."""
    assets = {
        ALICE: insert_assets(database_url, 2, user_id=ALICE, batch_id="batch_alice"),
        BOB: insert_assets(database_url, 2, user_id=BOB, batch_id="batch_bob"),
    }
    statuses = [openai_batch("batch_alice", "completed"), openai_batch("batch_bob", "completed")]
    conn.execute(
        "select public.record_batch_statuses(%s::jsonb)", (json.dumps(statuses),)
    )  # as owner: user_id inferred from the assets
    conn.execute("update public.openai_batches set created_at = now() - interval '1 hour'")
    return assets


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query.encode(), params).fetchall()


def test_the_worker_records_owners_inferred_from_assets(
    two_users: dict[str, list[str]], database_url: str
) -> None:
    owners = fetch_all(database_url, "select id, user_id::text from openai_batches order by id")
    assert owners == [("batch_alice", ALICE), ("batch_bob", BOB)]


def test_reads_show_only_the_callers_rows(
    two_users: dict[str, list[str]], conn: psycopg.Connection[Any]
) -> None:
    with as_user(conn, ALICE):
        assert _one(conn, "select batch_id from public.pending_batches()") == [("batch_alice",)]
        assert _one(conn, "select id from public.list_batches()") == [("batch_alice",)]
        assert _one(conn, "select id from public.get_batch('batch_bob')") == []
        assert _one(conn, "select id from public.batch_assets('batch_bob')") == []
        found = _one(conn, "select id from public.assets_by_ids(%s)", two_users[BOB])
        assert found == []
        assert _one(conn, "select count(*) from public.assets") == [(2,)]
    with as_user(conn, BOB):
        assert _one(conn, "select id from public.list_batches()") == [("batch_bob",)]


def test_writes_to_another_users_rows_change_nothing_or_are_refused(
    two_users: dict[str, list[str]], conn: psycopg.Connection[Any], database_url: str
) -> None:
    bob_rows = json.dumps([{"asset_id": a, "ok": True, "tags": ["x"]} for a in two_users[BOB]])
    with as_user(conn, ALICE):
        counts = _one(conn, "select * from public.apply_batch_results('batch_bob', %s)", bob_rows)
        assert counts == [(0, 0, 2)]
        assert _one(conn, "select * from public.finish_batch_apply('batch_bob', 'x')") == [
            (0, 0, 0)
        ]
        assert _one(conn, "select * from public.mark_batch_failed('batch_bob', 'x')") == [(0, 0, 0)]
        moved = _one(
            conn,
            "select public.mark_batch_submitted(%s::jsonb, %s)",
            # created a minute ago: due for a claim with a zero minimum age, whatever the
            # sub-second gap between this transaction's now() and the wall clock
            json.dumps(
                openai_batch(
                    "batch_alice_2", "validating", created_at=int(datetime.now().timestamp()) - 60
                )
            ),
            two_users[BOB],
        )
        assert moved == [(0,)]
        claimed = _one(
            conn,
            "select * from public.claim_due_batches('alice-desk', '0 s', '0 s', '10 min')",
        )
        assert sorted(claimed) == [("batch_alice",), ("batch_alice_2",)]
    with as_user(conn, ALICE):
        assert _one(conn, "select public.release_claims('alice-desk', %s)", ["batch_bob"]) == [(0,)]
    assert (
        fetch_all(
            database_url,
            "select auto_tag_status, openai_batch_id, applied_at is null from public.assets a "
            "join public.openai_batches b on b.id = a.openai_batch_id where a.user_id = %s",
            (BOB,),
        )
        == [("pending", "batch_bob", True)] * 2
    )

    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused, as_user(conn, ALICE):
        conn.execute(
            "select public.record_batch_statuses(%s::jsonb)",
            (json.dumps([openai_batch("batch_bob", "cancelled")]),),
        )
    assert isinstance(translate(refused.value), PermissionDenied)
    with pytest.raises(psycopg.Error) as unknown, as_user(conn, ALICE):
        conn.execute(
            "select * from public.begin_batch_retry('batch_bob', %s::jsonb, %s)",
            (json.dumps(openai_batch("batch_evil", "validating")), two_users[BOB]),
        )
    assert unknown.value.sqlstate == "BM002"
    assert fetch_all(
        database_url, "select status, retried_by from openai_batches where id = 'batch_bob'"
    ) == [("completed", None)]


def test_a_user_applies_their_own_batch_and_history_records_them(
    two_users: dict[str, list[str]], conn: psycopg.Connection[Any], database_url: str
) -> None:
    rows = json.dumps([{"asset_id": a, "ok": True, "tags": ["mine"]} for a in two_users[ALICE]])
    with as_user(conn, ALICE):
        assert _one(conn, "select * from public.apply_batch_results('batch_alice', %s)", rows) == [
            (2, 0, 0)
        ]
        # Again on the same pooled session: the staging table is reused, nothing changes.
        assert _one(conn, "select * from public.apply_batch_results('batch_alice', %s)", rows) == [
            (0, 0, 2)
        ]
        assert _one(conn, "select count(*) from public.asset_results") == [(2,)]
    with as_user(conn, BOB):
        assert _one(conn, "select count(*) from public.asset_results") == [(0,)]
    with as_user(conn, None, role="service_role"):
        # A server key sees everything; the staging table made by another role is usable.
        assert _one(conn, "select count(*) from public.list_batches()") == [(2,)]
        assert _one(conn, "select * from public.apply_batch_results('batch_bob', '[]')") == [
            (0, 0, 0)
        ]
    owners = fetch_all(database_url, "select distinct user_id::text from public.asset_results")
    assert owners == [(ALICE,)]


def test_poll_runs_are_readable_by_users_but_written_only_by_servers(
    conn: psycopg.Connection[Any],
) -> None:
    record = "select public.record_poll_run('w', now(), now(), 1, 1, 0, null)"
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, ALICE):
        conn.execute(record)
    conn.execute(record)
    with as_user(conn, ALICE):
        assert len(_one(conn, "select * from public.recent_poll_runs()")) == 1


@pytest.mark.parametrize(
    "call",
    [
        "select * from public.pending_batches()",
        "select * from public.list_batches()",
        "select public.record_batch_statuses('[]')",
        "select * from public.claim_due_batches('w', '0 s', '0 s', '1 min')",
        "select * from public.apply_batch_results('b', '[]')",
        "select * from public.begin_batch_retry('b', '{\"id\": \"c\"}', '{}')",
    ],
)
def test_anonymous_callers_may_not_call_the_api(
    two_users: dict[str, list[str]], conn: psycopg.Connection[Any], call: str
) -> None:
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege) as refused,
        as_user(conn, None, role="anon"),
    ):
        conn.execute(call.encode())
    assert isinstance(translate(refused.value), PermissionDenied)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_user(conn, None, role="anon"):
        conn.execute("select count(*) from public.assets")


def test_auth_uid_shim_reads_both_claim_settings(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (ALICE,))
        assert _one(conn, "select auth.uid()::text") == [(ALICE,)]
    with as_user(conn, BOB):
        assert _one(conn, "select auth.uid()::text") == [(BOB,)]
    assert _one(conn, "select auth.uid()") == [(None,)]
