"""Reliability test wiring: the real BatchClient on the simulator, fault settings, sizes.

Heavy runs have two sizes: the CI size (default, keeps the suite fast) and the full
size documented in docs/reliability.md (``RELIABILITY_FULL=1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY
from tests.reliability.misbehaving_api import LiveMisbehavingApi, serve


@pytest.fixture
async def client(asgi_http_client: httpx2.AsyncClient) -> AsyncIterator[BatchClient]:
    """The real BatchClient in-process, with no SDK retries: every fault reaches batchmon."""
    batch_client = BatchClient(
        api_key=SIM_API_KEY,
        base_url=f"{ASGI_BASE_URL}/v1",
        http_client=asgi_http_client,
        max_retries=0,
    )
    try:
        yield batch_client
    finally:
        await batch_client.aclose()


# The Supabase gateway fixtures (loopback PostgREST/auth/Realtime over the test database).
from tests.supabase.conftest import (  # noqa: E402, F401
    alice_store,
    bob_store,
    gateway,
    open_store,
    users,
)


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
