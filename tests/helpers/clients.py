"""A BatchClient on the in-process simulator, over any httpx2 client the test builds."""

from __future__ import annotations

from typing import Any

import httpx2

from batchmon.openai_batches import BatchClient
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY


def sim_batch_client(http_client: httpx2.AsyncClient, **options: Any) -> BatchClient:
    """The real BatchClient reaching the simulator through ``http_client`` (http://sim.test).

    ``options`` go to BatchClient (``max_retries``, ``api_key``, ...).
    """
    options.setdefault("api_key", SIM_API_KEY)
    return BatchClient(base_url=f"{ASGI_BASE_URL}/v1", http_client=http_client, **options)
