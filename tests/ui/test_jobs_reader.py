"""The jobs pane's reads: a quiet pass asks one question, a change is read in full.

Real parts: the test database through a PostgresStore that counts the SQL functions it
calls, the real engine (``create_job``, a worker pass that submits), the simulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from batchmon.core.planner import PlanLimits
from batchmon.engine.jobs import create_job
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from batchmon.ui.jobs_reader import JobsReader
from tests.fixtures.postgres import insert_assets
from tests.helpers.engine import RED_FOX, fast_worker

MODEL = "gpt-4o-mini"


class CountingStore(PostgresStore):
    """The real store; counts each SQL function it calls (one round trip each)."""

    calls: Counter[str]

    async def _rows(self, fn: str, args: Mapping[str, Any], **kw: Any) -> list[Any]:
        self.calls[fn] += 1
        return await super()._rows(fn, args, **kw)

    async def _value(self, fn: str, args: Mapping[str, Any], **kw: Any) -> Any:
        self.calls[fn] += 1
        return await super()._value(fn, args, **kw)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CountingStore]:
    opened = await CountingStore.open(database_url)
    assert isinstance(opened, CountingStore)
    opened.calls = Counter()
    try:
        yield opened
    finally:
        await opened.close()


async def counted(reader: JobsReader, store: CountingStore) -> Counter[str]:
    store.calls = Counter()
    await reader.read()
    return store.calls


async def test_a_quiet_refresh_asks_only_for_the_summaries_and_a_change_is_read_whole(
    client: BatchClient, store: CountingStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 6, url_prefix=RED_FOX)
    await store.set_model_limit(MODEL, 2_000_000)
    plan = await create_job(
        store, await store.assets_by_ids(ids), MODEL, limits=PlanLimits(max_requests=3)
    )
    reader = JobsReader(store, full_read_every=4)

    first = await counted(reader, store)
    assert first == Counter(job_summaries=1, job_batches=1, model_limits=1)
    quiet = await counted(reader, store)
    assert quiet == Counter(job_summaries=1)

    await fast_worker(client, store).run_once()  # submits both batches
    store.calls = Counter()
    view = await reader.read()
    assert store.calls == Counter(job_summaries=1, job_batches=1, model_limits=1)
    sent = [b.openai_batch_id for b in view.batches[plan.job_id]]
    assert len(sent) == 2 and all(sent)
    assert view.limits[0].tokens_enqueued > 0

    # A move the summaries do not show is still seen: every fifth refresh reads all.
    assert await counted(reader, store) == Counter(job_summaries=1)
    full = await counted(reader, store)
    assert full == Counter(job_summaries=1, job_batches=1, model_limits=1)


async def test_a_finished_job_is_read_once_even_by_the_full_refreshes(
    store: CountingStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 4, url_prefix=RED_FOX)
    plan = await create_job(store, await store.assets_by_ids(ids), MODEL)
    await store.cancel_job(plan.job_id)  # nothing was sent: it ends here
    reader = JobsReader(store, full_read_every=1)  # every second refresh is full

    first = await counted(reader, store)
    assert first["job_batches"] == 1
    later = [await counted(reader, store) for _ in range(4)]
    assert [c["model_limits"] for c in later] == [1, 0, 1, 0]  # the full ones
    assert all(c["job_batches"] == 0 for c in later)
