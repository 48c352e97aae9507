"""A long ``Retry-After`` delays only the request it answered, not the pass (M5).

The SDK would sleep up to two minutes per retry inside the call; batchmon ends the call
with :class:`RateLimited` instead, so the other batches of the pass go on and the one
that was refused is fetched again after its own backoff.
"""

from __future__ import annotations

import asyncio

import pytest

from batchmon.openai_batches import BatchClient, RateLimited
from batchmon.store.postgres import PostgresStore
from tests.reliability.helpers import fast_worker, ledger, submit_batches
from tests.reliability.misbehaving_api import LiveMisbehavingApi

PROMPTLY = 20.0  # far below one 120 s wait


async def test_a_long_retry_after_ends_the_call_instead_of_sleeping_in_it(
    misbehaving_api: LiveMisbehavingApi,
) -> None:
    misbehaving_api.api.add("rate_limited", r"GET /v1/batches$", times=3, retry_after=120)
    async with BatchClient(
        api_key=misbehaving_api.api_key, base_url=misbehaving_api.base_url, max_retries=2
    ) as client:
        with pytest.raises(RateLimited) as limited:
            await asyncio.wait_for(client.statuses(["batch_a"]), PROMPTLY)

        assert limited.value.retry_after == 120
        assert client.requests_made == 1  # no SDK retry slept on it


async def test_a_rate_limited_download_holds_up_only_its_batch(
    misbehaving_api: LiveMisbehavingApi, store: PostgresStore, database_url: str
) -> None:
    async with BatchClient(
        api_key=misbehaving_api.api_key, base_url=misbehaving_api.base_url, max_retries=2
    ) as client:
        batch_ids, ids = await submit_batches(client, store, database_url, 2, 3)
        misbehaving_api.simulator.advance(3600)
        misbehaving_api.api.add("rate_limited", r"GET /v1/files/.*/content", retry_after=120)

        report = await asyncio.wait_for(fast_worker(client, store).run_once(), PROMPTLY)

        assert report.run.applied == 1
        [refused] = report.errors
        assert "RateLimited" in report.errors[refused]
        states = await store.results_states(batch_ids)
        assert states[refused].state == "refetching"
        assert len(ledger(database_url, ids).completed) == 3  # the other batch's

        await fast_worker(client, store).run_once()  # its wait is over (no backoff)
        book = ledger(database_url, ids)
        assert len(book.completed) == 6 and book.applied_twice == []
