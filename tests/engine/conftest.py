"""Engine test wiring: a BatchClient talking to the in-process simulator, and helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.rules import predicted_tags
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY
from tests.reliability.helpers import IMPATIENT


@pytest.fixture
async def client(asgi_http_client: httpx2.AsyncClient) -> AsyncIterator[BatchClient]:
    """The real BatchClient (real openai SDK) on the simulator, in-process."""
    batch_client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=asgi_http_client
    )
    try:
        yield batch_client
    finally:
        await batch_client.aclose()


def fast_worker(client: BatchClient, store: PostgresStore, worker_id: str = "w1") -> Worker:
    """A worker that finds every batch due at once (no age or interval wait)."""
    return Worker(
        client,
        store,
        WorkerConfig(
            interval=timedelta(0),
            min_age=timedelta(0),
            concurrency=4,
            lease=timedelta(minutes=5),
            worker_id=worker_id,
            results=IMPATIENT,
        ),
    )


async def submit_new(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    count: int,
    *,
    metadata: dict[str, str] | None = None,
    url_prefix: str = "https://img.example.test/red-fox",
) -> tuple[str, list[str]]:
    """Insert ``count`` untagged assets and submit them as one batch."""
    ids = insert_assets(database_url, count, url_prefix=url_prefix)
    assets = await store.assets_by_ids(ids)
    result = await submit_assets(client, store, assets, metadata=metadata)
    assert len(result.batches) == 1
    return result.batches[0].id, ids


def asset_states(database_url: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = fetch_all(
        database_url,
        "select id::text, image_url, auto_tag_status, tags, auto_tag_error, openai_batch_id "
        "from public.assets where id = any(%s::uuid[])",
        (list(ids),),
    )
    return {
        r[0]: {"url": r[1], "status": r[2], "tags": r[3], "error": r[4], "batch": r[5]}
        for r in rows
    }


def history_counts(database_url: str, ids: Sequence[str]) -> dict[str, int]:
    """How many times each asset was applied, from the append-only asset_results log."""
    rows = fetch_all(
        database_url,
        "select asset_id::text, count(*) from public.asset_results "
        "where asset_id = any(%s::uuid[]) group by asset_id",
        (list(ids),),
    )
    counts = dict.fromkeys(ids, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


def assert_predicted(states: dict[str, dict[str, Any]], ok_ids: Sequence[str]) -> None:
    for asset_id in ok_ids:
        state = states[asset_id]
        assert state["status"] == "completed", state
        assert state["tags"] == predicted_tags(state["url"]), state


def finish(simulator: Simulator, seconds: float = 3600) -> None:
    """Move simulated time far enough for a default batch to finish."""
    simulator.advance(seconds)
