"""Row-level security across the whole SQL API: two users and a signed-out caller.

Directly in Postgres (``set local role authenticated`` plus JWT claims, as PostgREST
does), and through the loopback Supabase gateway with real JWTs and supabase-py. Alice
must never read, apply, retry or claim Bob's batches; ``anon`` may call nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from batchmon.store.protocol import PermissionDenied, ResultRow, StoreError
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import as_user, fetch_all, insert_assets, openai_batch
from tests.helpers.supabase import StoreFactory, Users

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())


def arrange(database_url: str, alice: str, bob: str) -> dict[str, list[str]]:
    """One finished batch per user with three pending assets each (as the table owner)."""
    owned = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for user, batch_id in ((alice, "batch_alice"), (bob, "batch_bob")):
            owned[batch_id] = insert_assets(database_url, 3, user_id=user, batch_id=batch_id)
            body = json.dumps([openai_batch(batch_id, "completed", created_at=1_700_000_000)])
            conn.execute(b"select public.record_batch_statuses(%s::jsonb)", (body,))
    return owned


Call = tuple[str, str, Callable[[dict[str, list[str]]], tuple[Any, ...]]]

# Every SQL function of the API, called on Bob's rows: (name, SQL, parameters).
BOB_CALLS: list[Call] = [
    ("list_batches", "select id from public.list_batches(100)", lambda o: ()),
    ("get_batch", "select id from public.get_batch(%s)", lambda o: ("batch_bob",)),
    ("pending_batches", "select batch_id from public.pending_batches()", lambda o: ()),
    ("batch_assets", "select id from public.batch_assets(%s)", lambda o: ("batch_bob",)),
    ("assets_by_ids", "select id from public.assets_by_ids(%s)", lambda o: (o["batch_bob"],)),
    (
        "apply_batch_results",
        "select completed + failed from public.apply_batch_results(%s, %s::jsonb)",
        lambda o: (
            "batch_bob",
            json.dumps([{"asset_id": a, "ok": True, "tags": ["stolen"]} for a in o["batch_bob"]]),
        ),
    ),
    (
        "finish_batch_apply",
        "select failed from public.finish_batch_apply(%s, 'x')",
        lambda o: ("batch_bob",),
    ),
    (
        "mark_batch_failed",
        "select failed from public.mark_batch_failed(%s, 'x')",
        lambda o: ("batch_bob",),
    ),
    (
        "claim_due_batches",
        "select * from public.claim_due_batches('w', '0 s', '0 s', '5 min', 100)",
        lambda o: (),
    ),
    ("release_claims", "select public.release_claims('w', %s)", lambda o: (["batch_bob"],)),
    (
        "record_batch_statuses",
        "select public.record_batch_statuses(%s::jsonb)",
        lambda o: (json.dumps([openai_batch("batch_bob", "in_progress")]),),
    ),
    ("recent_poll_runs", "select id from public.recent_poll_runs(20)", lambda o: ()),
]


def bob_untouched(database_url: str, owned: dict[str, list[str]]) -> None:
    rows = fetch_all(
        database_url,
        "select auto_tag_status, tags from public.assets where id = any(%s::uuid[])",
        (owned["batch_bob"],),
    )
    assert rows == [("pending", None)] * 3
    batch = fetch_all(
        database_url,
        "select b.status, b.applied_at, k.claimed_by, b.retried_by from public.openai_batches b "
        "left join public.batch_claims k on k.batch_id = b.id where b.id = 'batch_bob'",
    )
    assert batch == [("completed", None, None, None)]
    assert fetch_all(database_url, "select count(*) from public.asset_results") == [(0,)]


@pytest.mark.parametrize("name,query,params", BOB_CALLS, ids=[c[0] for c in BOB_CALLS])
def test_alice_can_neither_see_nor_change_bobs_rows_directly(
    database_url: str, name: str, query: str, params: Callable[..., tuple[Any, ...]]
) -> None:
    owned = arrange(database_url, ALICE, BOB)
    with psycopg.connect(database_url, autocommit=True) as conn, as_user(conn, ALICE):
        rows = conn.execute(query.encode(), params(owned)).fetchall()
    flat = json.dumps([list(map(str, r)) for r in rows])
    assert "batch_bob" not in flat
    assert not any(a in flat for a in owned["batch_bob"])
    if name in ("apply_batch_results", "finish_batch_apply", "mark_batch_failed"):
        assert rows == [(0,)]
    bob_untouched(database_url, owned)


def test_alice_cannot_retry_bobs_batch_directly(database_url: str) -> None:
    owned = arrange(database_url, ALICE, BOB)
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        pytest.raises(psycopg.Error) as refused,
        as_user(conn, ALICE),
    ):
        conn.execute(
            b"select * from public.begin_batch_retry('batch_bob', %s::jsonb, %s)",
            (json.dumps(openai_batch("batch_evil", "validating")), owned["batch_bob"]),
        )
    assert refused.value.sqlstate == "BM002"
    bob_untouched(database_url, owned)


def test_alice_still_works_on_her_own_rows_directly(database_url: str) -> None:
    owned = arrange(database_url, ALICE, BOB)
    with psycopg.connect(database_url, autocommit=True) as conn, as_user(conn, ALICE):
        listed = conn.execute(b"select id from public.list_batches(100)").fetchall()
        claimed = conn.execute(
            b"select * from public.claim_due_batches('w', '0 s', '0 s', '5 min', 100)"
        ).fetchall()
        applied = conn.execute(
            b"select completed from public.apply_batch_results('batch_alice', %s::jsonb)",
            (
                json.dumps(
                    [{"asset_id": a, "ok": True, "tags": ["t"]} for a in owned["batch_alice"]]
                ),
            ),
        ).fetchall()
    assert listed == [("batch_alice",)] and claimed == [("batch_alice",)] and applied == [(3,)]


RETRY_SQL = "select * from public.begin_batch_retry('batch_bob', %s::jsonb, '{}')"
ANON_CALLS = [*BOB_CALLS, ("begin_batch_retry", RETRY_SQL, lambda o: ('{"id": "x"}',))]


@pytest.mark.parametrize("name,query,params", ANON_CALLS, ids=[c[0] for c in ANON_CALLS])
def test_a_signed_out_caller_may_call_no_function(
    database_url: str, name: str, query: str, params: Callable[..., tuple[Any, ...]]
) -> None:
    owned = arrange(database_url, ALICE, BOB)
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        as_user(conn, None, role="anon"),
    ):
        conn.execute(query.encode(), params(owned))
    bob_untouched(database_url, owned)


async def test_through_the_gateway_with_real_jwts_alice_cannot_reach_bobs_batch(
    alice_store: SupabaseStore,
    bob_store: SupabaseStore,
    users: Users,
    database_url: str,
    open_store: StoreFactory,
) -> None:
    owned = arrange(database_url, users.alice.id, users.bob.id)
    assert [b.id for b in await alice_store.list_batches()] == ["batch_alice"]
    assert await alice_store.get_batch("batch_bob") is None
    assert await alice_store.batch_assets("batch_bob") == []
    assert await alice_store.assets_by_ids(owned["batch_bob"]) == []
    rows = [ResultRow(a, True, ["stolen"]) for a in owned["batch_bob"]]
    counts = await alice_store.apply_results("batch_bob", rows)
    assert counts.completed == counts.failed == 0
    assert (await alice_store.finish_apply("batch_bob", unreturned_reason="x")).failed == 0
    claimed = await alice_store.claim_due(
        "w", min_age=timedelta(0), interval=timedelta(0), lease=timedelta(minutes=5)
    )
    assert claimed == ["batch_alice"]
    with pytest.raises(StoreError):
        await alice_store.begin_retry(
            "batch_bob", openai_batch("batch_evil", "validating"), owned["batch_bob"]
        )
    bob_untouched(database_url, owned)
    assert [b.id for b in await bob_store.list_batches()] == ["batch_bob"]

    signed_out = await open_store(service="batchmon-nobody")
    with pytest.raises(PermissionDenied):
        await signed_out.list_batches()
