"""A worker's pass costs Realtime only the changes a person watching cares about.

Supabase Realtime streams every row change of the tables in ``supabase_realtime``
(``openai_batches`` and ``batchmon_asset_changes``) and stops delivering to the whole
project while it is past ``max_events_per_second``. A row-level trigger on those tables
counts what Realtime would stream: one event per changed row, with the columns that
changed. The same trigger on ``assets`` counts what publishing ``assets`` itself would
cost (batchmon did until asset changes got a row per batch).
"""

from __future__ import annotations

from collections import Counter

from batchmon.engine.jobs import create_job
from batchmon.engine.submit import submit_assets
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.api import APPLY_CHUNK_ROWS
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all, insert_assets
from tests.helpers.engine import fast_worker

STREAMED = ("openai_batches", "batchmon_asset_changes")
BIG_BATCH = 2000

COUNT_EVENTS = """
create schema realtime_events;
create table realtime_events.log (
  id bigint generated always as identity, tab text, op text, changed text[]);
create function realtime_events.note() returns trigger
language plpgsql security definer set search_path = pg_catalog as $$
begin
  insert into realtime_events.log (tab, op, changed)
  select tg_table_name, tg_op, array(
    select n.key from jsonb_each(to_jsonb(new)) n
    where tg_op = 'INSERT' or to_jsonb(old) -> n.key is distinct from n.value
    order by n.key);
  return null;
end
$$;
"""

# What a person watching the desktop is told about: status, counts, results applied.
NEWS = {"status", "completed", "failed", "total", "applied_at", "changed_at"}


def _count_events(database_url: str, tables: tuple[str, ...] = STREAMED) -> None:
    execute(database_url, COUNT_EVENTS)
    for table in tables:
        execute(
            database_url,
            f"create trigger count_events after insert or update or delete on public.{table}"
            " for each row execute function realtime_events.note()",
        )


def _events(database_url: str) -> list[tuple[str, str, list[str]]]:
    rows = fetch_all(database_url, "select tab, op, changed from realtime_events.log order by id")
    execute(database_url, "truncate realtime_events.log")
    return [(tab, op, list(changed)) for tab, op, changed in rows]


async def test_a_pass_streams_only_status_counts_and_applied_results(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    ids = insert_assets(database_url, 4)
    submitted = await submit_assets(client, store, await store.assets_by_ids(ids), per_batch=2)
    assert len(submitted.batches) == 2
    _count_events(database_url)
    worker = fast_worker(client, store)

    # Claim, poll (nothing new), release: bookkeeping only, no event at all.
    quiet = await worker.run_once()
    assert quiet.run.checked == 2
    assert _events(database_url) == []

    simulator.advance(3600)
    done = await worker.run_once()
    assert done.run.applied == 2
    events = _events(database_url)
    batch_events = [e for e in events if e[0] == "openai_batches"]
    asset_events = [e for e in events if e[0] == "batchmon_asset_changes"]
    # Per batch: its completion, its assets' results (one statement), then applied_at.
    assert len(batch_events) == 4 and len(asset_events) == 2 and len(events) == 6
    for _, op, changed in events:
        assert op == "UPDATE" and set(changed) & NEWS, changed
    assert not {c for *_, changed in events for c in changed} & {
        "claimed_by",
        "claim_expires_at",
        "last_polled_at",
    }


async def test_applying_a_big_batch_streams_one_event_per_statement_not_per_asset(
    client: BatchClient, database_url: str, simulator: Simulator
) -> None:
    """2,000 assets applied 1,000 rows per statement (as a desktop applies on Supabase).

    ``assets`` is counted too, for what streaming it would cost: one event per asset.
    """
    _count_events(database_url, (*STREAMED, "assets"))
    ids = insert_assets(database_url, BIG_BATCH)
    store = await PostgresStore.open(database_url, chunk_size=APPLY_CHUNK_ROWS)
    try:
        await submit_assets(client, store, await store.assets_by_ids(ids), per_batch=BIG_BATCH)
        submitted = Counter(tab for tab, _, _ in _events(database_url))
        simulator.advance(3600)
        done = await fast_worker(client, store).run_once()
    finally:
        await store.close()

    # The app's insert and the submission: every asset twice; the batch row inserted once
    # (its assets have no owner to copy onto it); one row for the statement linking assets.
    assert submitted == {"assets": 2 * BIG_BATCH, "openai_batches": 1, "batchmon_asset_changes": 1}
    assert done.run.applied == 1
    counted = Counter(tab for tab, _, _ in _events(database_url))
    assert counted["assets"] == BIG_BATCH  # had assets been published
    assert counted["batchmon_asset_changes"] == BIG_BATCH // APPLY_CHUNK_ROWS  # per statement
    assert counted["openai_batches"] == 2  # completed, then applied_at
    assert sum(counted[t] for t in STREAMED) == 4


async def test_claims_polls_and_releases_are_kept_in_their_own_unstreamed_table(
    client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 2)
    await submit_assets(client, store, await store.assets_by_ids(ids))
    await fast_worker(client, store).run_once()

    polled = fetch_all(
        database_url,
        "select count(*) from public.batch_claims"
        " where last_polled_at is not null and claimed_by is null",
    )
    assert polled == [(1,)]
    columns = fetch_all(
        database_url,
        "select column_name from information_schema.columns"
        " where table_schema = 'public' and table_name = any(%s)"
        " and column_name in ('claimed_by', 'claim_expires_at', 'last_polled_at')",
        (list(STREAMED),),
    )
    assert columns == []


async def test_a_job_batch_sent_without_an_owner_writes_its_batch_row_once(
    client: BatchClient, database_url: str
) -> None:
    """A server connection's job has no owner: nothing to copy onto the new batch row."""
    ids = insert_assets(database_url, 3)
    store = await PostgresStore.open(database_url)
    try:
        await create_job(store, await store.assets_by_ids(ids), "gpt-4o-mini")
        _count_events(database_url)
        report = await fast_worker(client, store).run_once()
    finally:
        await store.close()

    assert report.jobs is not None and len(report.jobs.submitted) == 1
    batch_rows = [e for e in _events(database_url) if e[0] == "openai_batches"]
    assert [op for _, op, _ in batch_rows] == ["INSERT"]
