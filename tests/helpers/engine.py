"""Arranging engine work: a worker with no waits, submitting assets, reading their state.

Every "applied once" check reads the append-only ``asset_results`` history, not only
the assets' final state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from batchmon.engine.apply import ResultsPolicy
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import PassReport, Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.rules import predicted_tags
from batchmon.store import Store
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.fixtures.sim import LiveSim

RED_FOX = "https://img.example.test/red-fox"
"""An image URL prefix the simulator tags predictably (see ``predicted_tags``)."""

FINISH_SECONDS = 3600.0
"""Simulated time after which a default simulator batch has finished."""


IMPATIENT = ResultsPolicy(refetch_base=timedelta(0), queue_base=timedelta(0))
"""Fetch missing results and resubmit for queue room on the very next pass."""


def fast_worker(
    client: BatchClient, store: Store, worker_id: str = "w1", *, concurrency: int = 4
) -> Worker:
    """A worker that finds every batch due at once (no age or interval wait)."""
    return Worker(
        client,
        store,
        WorkerConfig(
            interval=timedelta(0),
            min_age=timedelta(0),
            concurrency=concurrency,
            lease=timedelta(minutes=5),
            worker_id=worker_id,
            results=IMPATIENT,
        ),
    )


async def submit_batches(
    client: BatchClient,
    store: Store,
    database_url: str,
    batches: int,
    per_batch: int,
    *,
    metadata: dict[str, str] | None = None,
    url_prefix: str = RED_FOX,
    user_id: str | None = None,
) -> tuple[list[str], list[str]]:
    """Insert ``batches * per_batch`` assets and submit them, ``per_batch`` per batch."""
    ids = insert_assets(database_url, batches * per_batch, url_prefix=url_prefix, user_id=user_id)
    assets = await store.assets_by_ids(ids)
    result = await submit_assets(client, store, assets, metadata=metadata, per_batch=per_batch)
    assert len(result.batches) == batches
    return [b.id for b in result.batches], ids


async def submit_new(
    client: BatchClient, store: Store, database_url: str, count: int, **options: Any
) -> tuple[str, list[str]]:
    """Insert ``count`` untagged assets and submit them as one batch (options as above)."""
    (batch_id,), ids = await submit_batches(client, store, database_url, 1, count, **options)
    return batch_id, ids


def finish(simulator: Simulator, seconds: float = FINISH_SECONDS) -> None:
    """Move simulated time far enough for a default batch to finish."""
    simulator.advance(seconds)


async def finish_and_apply(
    client: BatchClient, store: Store, simulator: Simulator, seconds: float = FINISH_SECONDS
) -> PassReport:
    """Let the submitted batches end, then run one worker pass that applies them."""
    finish(simulator, seconds)
    return await fast_worker(client, store).run_once()


async def submit_finished(
    client: BatchClient,
    store: Store,
    database_url: str,
    simulator: Simulator,
    count: int,
    *,
    seconds: float = FINISH_SECONDS,
    **options: Any,
) -> tuple[str, list[str]]:
    """Submit ``count`` assets as one batch and move simulated time until it has ended."""
    batch_id, ids = await submit_new(client, store, database_url, count, **options)
    finish(simulator, seconds)
    return batch_id, ids


async def submit_and_apply(
    client: BatchClient,
    store: Store,
    database_url: str,
    simulator: Simulator,
    count: int,
    **options: Any,
) -> tuple[str, list[str], PassReport]:
    """:func:`submit_finished` (same options), then one worker pass applies the batch."""
    batch_id, ids = await submit_finished(client, store, database_url, simulator, count, **options)
    return batch_id, ids, await fast_worker(client, store).run_once()


@dataclass(frozen=True)
class Simulated:
    """A client on the simulator and a store on this test's database: an engine test's world."""

    client: BatchClient
    store: PostgresStore
    database_url: str
    simulator: Simulator

    async def submit_new(self, count: int, **options: Any) -> tuple[str, list[str]]:
        """:func:`submit_new` in this world."""
        return await submit_new(self.client, self.store, self.database_url, count, **options)

    async def finished_batches(self, batches: int, per_batch: int) -> tuple[list[str], list[str]]:
        """:func:`submit_batches` in this world, then time enough for every batch to end."""
        submitted = await submit_batches(
            self.client, self.store, self.database_url, batches, per_batch
        )
        finish(self.simulator)
        return submitted

    async def submit_finished(self, count: int, **options: Any) -> tuple[str, list[str]]:
        """:func:`submit_finished` in this world."""
        return await submit_finished(
            self.client, self.store, self.database_url, self.simulator, count, **options
        )

    async def submit_and_apply(
        self, count: int, **options: Any
    ) -> tuple[str, list[str], PassReport]:
        """:func:`submit_and_apply` in this world."""
        return await submit_and_apply(
            self.client, self.store, self.database_url, self.simulator, count, **options
        )


def asset_states(database_url: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each asset's URL, status, tags, error and batch, read as the table owner."""
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
    """Each of ``ok_ids`` completed with exactly the simulator's predicted tags."""
    for asset_id in ok_ids:
        state = states[asset_id]
        assert state["status"] == "completed", state
        assert state["tags"] == predicted_tags(state["url"]), state


def assert_applied_once(database_url: str, ids: Sequence[str]) -> None:
    """Every asset completed with the predicted tags, and was applied exactly once."""
    assert_predicted(asset_states(database_url, ids), ids)
    assert set(history_counts(database_url, ids).values()) == {1}


async def submit_over_loopback(
    live_sim: LiveSim, database_url: str, batches: int, per_batch: int, **options: Any
) -> tuple[list[str], list[str]]:
    """:func:`submit_batches` with a client and store of its own, over the real socket."""
    async with BatchClient(api_key=live_sim.api_key, base_url=live_sim.base_url) as client:
        store = await PostgresStore.open(database_url)
        try:
            return await submit_batches(client, store, database_url, batches, per_batch, **options)
        finally:
            await store.close()
