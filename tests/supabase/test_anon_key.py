"""With only the public anon key, no table endpoint and no RPC gives or changes anything.

The anon key ships inside every desktop, so anyone has it. Every table and view of
``public`` and every function is tried through the gateway's PostgREST (read, insert,
update, delete; call with every argument), on a Supabase-shaped database whose default
privileges would otherwise give anon ALL; then every row is compared with before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from batchmon.store.supabase import SupabaseStore
from tests.fixtures.postgres import fetch_all, insert_assets, openai_batch
from tests.helpers.supabase import Users
from tests.supabase_gateway import Gateway

_RELATIONS = """
select c.relname, array_agg(a.attname order by a.attnum)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
group by c.relname order by c.relname
"""
_FUNCTIONS = """
select p.proname, coalesce(p.proargnames[1:p.pronargs], '{}')
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'public' and p.prorettype <> 'trigger'::regtype
order by p.proname
"""


def snapshot(database_url: str, tables: list[str]) -> dict[str, list[str]]:
    """Every row of every table, as text, sorted: to tell any change."""
    return {
        t: sorted(r[0] for r in fetch_all(database_url, f"select t::text from public.{t} t"))
        for t in tables
    }


@pytest.fixture
async def anon_http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"apikey": gateway.anon_key, "authorization": f"Bearer {gateway.anon_key}"}
    async with httpx.AsyncClient(base_url=f"{gateway.url}/rest/v1", headers=headers) as client:
        yield client


def got_nothing(method: str, response: httpx.Response) -> bool:
    """Refused, an empty list, or (update, delete) 204 for no visible row."""
    if response.status_code in (401, 403):
        return bool(response.json()["code"] == "42501")
    if method == "GET":
        return response.status_code == 200 and response.json() == []
    # A write the database refused otherwise (a view that cannot take it), or one that
    # matched no row it may see; the snapshot below proves nothing changed.
    return response.status_code >= 400 or (method != "POST" and response.status_code == 204)


async def test_the_anon_key_reads_and_changes_nothing(
    alice_store: SupabaseStore, users: Users, database_url: str, anon_http: httpx.AsyncClient
) -> None:
    ids = insert_assets(database_url, 3, user_id=users.alice.id)
    await alice_store.mark_submitted(openai_batch("batch_a", "completed"), ids)
    await alice_store.finish_apply("batch_a", unreturned_reason="gone")
    relations = fetch_all(database_url, _RELATIONS)
    tables = [name for name, _ in relations if name != "batch_overview"]
    before = snapshot(database_url, tables)
    assert all(before[t] for t in ("assets", "openai_batches", "asset_results"))
    assert before["batchmon_schema_migrations"]

    answers: dict[str, int] = {}
    for name, columns in relations:
        row: dict[str, Any] = {c: None for c in columns if c != "id"}  # ids are generated
        if name == "batchmon_schema_migrations":
            row = {"name": "999_skip_me.sql", "checksum": "x"}
        attempts = [
            anon_http.get(f"/{name}"),
            anon_http.post(f"/{name}", json=row),
            anon_http.patch(f"/{name}", json={columns[-1]: None}),
            anon_http.delete(f"/{name}"),
        ]
        for method, attempt in zip(("GET", "POST", "PATCH", "DELETE"), attempts, strict=True):
            response = await attempt
            assert got_nothing(method, response), (method, name, response.text)
            answers[f"{method} {name}"] = response.status_code
    for name, args in fetch_all(database_url, _FUNCTIONS):
        response = await anon_http.post(f"/rpc/{name}", json={a: None for a in args})
        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] == "42501"
        answers[f"rpc {name}"] = response.status_code

    assert snapshot(database_url, tables) == before
    assert answers["GET batchmon_schema_migrations"] == 401
    assert answers["POST batchmon_schema_migrations"] == 401
    assert answers["rpc list_batches"] == 401
