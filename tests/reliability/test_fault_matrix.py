"""The fault matrix: the engine against a simulator having a bad day.

Every fault reaches batchmon's own code (the client here has no SDK retries): 20% of
responses are 429, 500 or 503, some connections drop, downloads are cut short, some
answers are slow, and creates can succeed on the server while their answer is lost.
Whatever happens: every batch finishes, no asset is lost or applied twice (read from
the ``asset_results`` history), and no create makes a second batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from batchmon.core.backoff import Backoff
from batchmon.engine.retry import RETRY_OF_KEY, Retrier
from batchmon.engine.submit import submit_assets
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchApiError, BatchClient
from batchmon.sim import Fault, FaultConfig, Simulator, create_app
from batchmon.sim.rules import request_fails
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import insert_assets
from tests.fixtures.sim import ASGI_BASE_URL
from tests.helpers.clients import sim_batch_client
from tests.reliability.faults import LoseResponses, bad_day
from tests.reliability.helpers import fast_worker, ledger, submit_batches, unapplied_batches
from tests.reliability.sizes import size

FAIL_FRACTION = "0.2"
DEADLINE = 90.0


@pytest.fixture
async def small_chunk_store(database_url: str) -> AsyncIterator[PostgresStore]:
    """Chunks of 7 rows: a cut-off download leaves a partly applied batch behind."""
    store = await PostgresStore.open(
        database_url, chunk_size=7, backoff=Backoff(initial=0.05, maximum=0.5)
    )
    try:
        yield store
    finally:
        await store.close()


def sim_batch_count(simulator: Simulator) -> int:
    return len(simulator.state()["batches"])


async def drain(
    client: BatchClient, store: PostgresStore, database_url: str, batch_ids: list[str]
) -> int:
    """Run worker passes until every batch is applied; returns the passes it took."""
    worker = fast_worker(client, store)
    passes = 0
    while unapplied_batches(database_url, batch_ids):
        passes += 1
        await worker.run_once()
        assert passes < 400, "the worker made no progress through the faults"
    return passes


async def test_worker_through_errors_drops_truncation_and_latency_loses_and_doubles_nothing(
    simulator: Simulator,
    client: BatchClient,
    small_chunk_store: PostgresStore,
    database_url: str,
) -> None:
    batches, per_batch = size(12, 60), size(30, 100)
    batch_ids, ids = await submit_batches(
        client,
        small_chunk_store,
        database_url,
        batches,
        per_batch,
        metadata={"sim_fail_fraction": FAIL_FRACTION},
    )
    simulator.advance(3600)
    simulator.faults.configure(bad_day(seed=11))

    passes = await asyncio.wait_for(
        drain(client, small_chunk_store, database_url, batch_ids), DEADLINE
    )

    books = ledger(database_url, ids)
    assert books.lost == []
    assert books.applied_twice == []
    assert books.wrong_tags() == []
    assert books.failed_without_reason() == []
    expected_failures = {a for a in ids if request_fails(a, float(FAIL_FRACTION))}
    assert set(books.failed) == expected_failures
    injected = simulator.faults.counts
    for fault in (Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.DROPPED, Fault.TRUNCATED):
        assert injected[fault] > 0, f"no {fault} was injected: the test proved nothing"
    assert injected[Fault.LATENCY] > 0
    assert passes > 1
    assert sim_batch_count(simulator) == batches


@pytest.fixture
def lossy_app(simulator: Simulator) -> LoseResponses:
    """The simulator app, losing 30% of answers to POST /v1/batches after creating."""
    return LoseResponses(create_app(simulator), pattern=r"^POST /v1/batches$", rate=0.3, seed=5)


@pytest.fixture
async def lossy_client(lossy_app: LoseResponses) -> AsyncIterator[BatchClient]:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=lossy_app), base_url=ASGI_BASE_URL)
    client = sim_batch_client(http, max_retries=0)
    try:
        yield client
    finally:
        await client.aclose()
        await http.aclose()


async def _until_ok(attempt: Any, limit: int = 60) -> tuple[Any, int]:
    """Call ``attempt()`` again after each API error, as a person or a script would."""
    errors = 0
    while True:
        try:
            return await attempt(), errors
        except BatchApiError:
            errors += 1
            assert errors < limit, "never succeeded"


async def test_submitting_again_after_a_lost_create_answer_makes_no_second_batch(
    simulator: Simulator,
    lossy_app: LoseResponses,
    lossy_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    groups = size(10, 40)
    simulator.faults.configure(
        FaultConfig(seed=3, rate_limit_rate=0.1, server_error_rate=0.1, retry_after=0.0)
    )
    all_ids: list[str] = []
    for _ in range(groups):
        ids = insert_assets(database_url, 5)
        all_ids += ids

        async def submit(ids: list[str] = ids) -> Any:
            return await submit_assets(lossy_client, store, await store.assets_by_ids(ids))

        await _until_ok(submit)
    assert lossy_app.lost > 0
    # One batch per group of assets, however many times the create was answered or not.
    assert sim_batch_count(simulator) == groups


async def test_retry_through_lost_answers_and_errors_creates_exactly_one_batch_each(
    simulator: Simulator,
    client: BatchClient,
    lossy_app: LoseResponses,
    lossy_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    batches = size(6, 30)
    batch_ids, ids = await submit_batches(
        client, store, database_url, batches, 10, metadata={"sim_fail_fraction": "0.5"}
    )
    simulator.advance(3600)
    await drain(client, store, database_url, batch_ids)
    before = sim_batch_count(simulator)
    simulator.faults.configure(
        FaultConfig(seed=9, rate_limit_rate=0.1, server_error_rate=0.1, retry_after=0.0)
    )
    retrier = Retrier(lossy_client, store)
    new_ids = []
    for old in batch_ids:
        # The scripted failures are invalid_image_url: permanent, so included explicitly.
        result, _ = await _until_ok(lambda old=old: retrier.retry(old, include_permanent=True))
        new_ids.append(result.new_batch.id)
        # Pressing Retry again (a second click, another process) changes nothing.
        again, _ = await _until_ok(
            lambda old=old: Retrier(lossy_client, store).retry(old, include_permanent=True)
        )
        assert again.new_batch.id == result.new_batch.id
    assert lossy_app.lost > 0
    retries = [
        b["id"]
        for b in simulator.state()["batches"]
        if (simulator.batch(b["id"]).metadata or {}).get(RETRY_OF_KEY)
    ]
    assert sorted(retries) == sorted(new_ids)
    assert sim_batch_count(simulator) == before + batches

    simulator.faults.configure(bad_day(seed=13))
    simulator.advance(3600)
    await asyncio.wait_for(drain(client, store, database_url, new_ids), DEADLINE)
    books = ledger(database_url, ids)
    assert books.lost == []
    assert books.failed == []  # retries carry no sim_fail_fraction: all succeed
    assert books.wrong_tags() == []


async def test_cancel_through_faults_applies_partial_results_once(
    simulator: Simulator,
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    batches, per_batch = size(8, 40), 20
    batch_ids, ids = await submit_batches(
        client, store, database_url, batches, per_batch, metadata={"sim_duration": "100"}
    )
    simulator.advance(60)  # part way through in_progress
    simulator.faults.configure(bad_day(seed=17))
    for batch_id in batch_ids:
        await _until_ok(lambda batch_id=batch_id: client.cancel(batch_id))
    simulator.advance(3600)
    await asyncio.wait_for(drain(client, store, database_url, batch_ids), DEADLINE)

    assert {simulator.batch(b).status for b in batch_ids} == {"cancelled"}
    books = ledger(database_url, ids)
    assert books.lost == []
    assert books.applied_twice == []
    assert books.wrong_tags() == []
    assert books.failed_without_reason() == []
    assert books.completed and books.failed  # partial output: some ran, the rest did not
    assert sim_batch_count(simulator) == batches


async def test_sync_through_faults_sees_every_batch_finish(
    simulator: Simulator, client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    batches = size(30, 150)
    batch_ids, _ = await submit_batches(client, store, database_url, batches, 1)
    sync = BatchSync(client, store)
    await sync.run()  # baseline
    simulator.faults.configure(bad_day(seed=21))
    simulator.advance(3600)
    finished: set[str] = set()
    failures = 0
    for _ in range(200):
        try:
            result = await sync.run()
        except BatchApiError:
            failures += 1
            continue
        finished |= {e.batch_id for e in result.events if e.new_status == "completed"}
        if finished == set(batch_ids):
            break
    assert finished == set(batch_ids)
    assert failures > 0
