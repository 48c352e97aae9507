"""Shared arrangements and ledger checks for the reliability tests.

Every "lost: 0, applied twice: 0" claim is read from the append-only ``asset_results``
history, not only from the assets' final state.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from batchmon.engine.apply import ResultsPolicy
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.sim.rules import predicted_tags
from batchmon.store.protocol import Store
from tests.fixtures.postgres import fetch_all, insert_assets

IMPATIENT = ResultsPolicy(refetch_base=timedelta(0), queue_base=timedelta(0))
"""Fetch missing results and resubmit for queue room on the very next pass."""


COMMAND_TIMEOUT = 60.0


async def batchmon_output(env: dict[str, str], *args: str) -> str:
    """What a ``python -m batchmon ...`` process prints on stdout, as a person runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batchmon", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    return out.decode()


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
    url_prefix: str = "https://img.example.test/red-fox",
    user_id: str | None = None,
) -> tuple[list[str], list[str]]:
    """Insert ``batches * per_batch`` assets and submit them, ``per_batch`` per batch."""
    ids = insert_assets(database_url, batches * per_batch, url_prefix=url_prefix, user_id=user_id)
    assets = await store.assets_by_ids(ids)
    result = await submit_assets(client, store, assets, metadata=metadata, per_batch=per_batch)
    assert len(result.batches) == batches
    return [b.id for b in result.batches], ids


@dataclass(frozen=True)
class Ledger:
    """What the apply history and the assets say about a set of assets."""

    history: dict[str, int]
    states: dict[str, dict[str, Any]]

    @property
    def lost(self) -> list[str]:
        """Assets with no final outcome: still pending, or never applied."""
        return [
            a
            for a, n in self.history.items()
            if n == 0 or self.states[a]["status"] not in ("completed", "failed")
        ]

    @property
    def applied_twice(self) -> list[str]:
        return [a for a, n in self.history.items() if n > 1]

    @property
    def completed(self) -> list[str]:
        return [a for a, s in self.states.items() if s["status"] == "completed"]

    @property
    def failed(self) -> list[str]:
        return [a for a, s in self.states.items() if s["status"] == "failed"]

    def wrong_tags(self) -> list[str]:
        """Completed assets whose tags are not the simulator's prediction."""
        return [
            a
            for a in self.completed
            if self.states[a]["tags"] != predicted_tags(self.states[a]["url"])
        ]

    def failed_without_reason(self) -> list[str]:
        return [a for a in self.failed if not (self.states[a]["error"] or "").strip()]


def ledger(database_url: str, ids: Sequence[str]) -> Ledger:
    rows = fetch_all(
        database_url,
        "select asset_id::text, count(*) from public.asset_results "
        "where asset_id = any(%s::uuid[]) group by asset_id",
        (list(ids),),
    )
    history = dict.fromkeys(ids, 0)
    history.update({r[0]: int(r[1]) for r in rows})
    state_rows = fetch_all(
        database_url,
        "select id::text, image_url, auto_tag_status, tags, auto_tag_error, openai_batch_id "
        "from public.assets where id = any(%s::uuid[])",
        (list(ids),),
    )
    states = {
        r[0]: {"url": r[1], "status": r[2], "tags": r[3], "error": r[4], "batch": r[5]}
        for r in state_rows
    }
    return Ledger(history, states)


def unapplied_batches(database_url: str, batch_ids: Sequence[str]) -> list[str]:
    rows = fetch_all(
        database_url,
        "select id from public.openai_batches where id = any(%s) and applied_at is null",
        (list(batch_ids),),
    )
    return [r[0] for r in rows]
