"""Reliability test wiring: the in-process BatchClient without SDK retries.

Heavy runs have two sizes: the CI size (default, keeps the suite fast) and the full
size documented in docs/reliability.md (``RELIABILITY_FULL=1``). The Supabase gateway
fixtures come from tests/fixtures/gateway.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.reliability.helpers import Misbehaving
from tests.reliability.misbehaving_api import LiveMisbehavingApi, serve


@pytest.fixture
def sim_client_options() -> dict[str, Any]:
    """No SDK retries: every fault reaches batchmon's own handling."""
    return {"max_retries": 0}


@pytest.fixture
def misbehaving_api(simulator: Simulator) -> Iterator[LiveMisbehavingApi]:
    """The simulator behind a loopback server that corrupts the answers a test chooses."""
    yield from serve(simulator)


@pytest.fixture
async def misbehaving_client(
    misbehaving_api: LiveMisbehavingApi,
) -> AsyncIterator[BatchClient]:
    """The real BatchClient over a real socket to :func:`misbehaving_api`, no SDK retries."""
    async with BatchClient(
        api_key=misbehaving_api.api_key, base_url=misbehaving_api.base_url, max_retries=0
    ) as batch_client:
        yield batch_client


@pytest.fixture
def misbehaving(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> Misbehaving:
    """The four a fault test needs, as one argument."""
    return Misbehaving(misbehaving_api, misbehaving_client, store, database_url)
