"""Shared arrangements and ledger checks for the reliability tests.

Every "lost: 0, applied twice: 0" claim is read from the append-only ``asset_results``
history, not only from the assets' final state.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchmon.openai_batches import BatchClient
from batchmon.sim.rules import predicted_tags
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all
from tests.helpers.engine import (
    IMPATIENT,
    asset_states,
    fast_worker,
    history_counts,
    submit_batches,
)
from tests.reliability.misbehaving_api import LiveMisbehavingApi

__all__ = [
    "IMPATIENT",
    "Ledger",
    "Misbehaving",
    "batchmon_output",
    "fast_worker",
    "ledger",
    "submit_batches",
    "unapplied_batches",
]


COMMAND_TIMEOUT = 60.0


async def batchmon_output(env: dict[str, str], *args: str) -> str:
    """What a ``python -m batchmon ...`` process prints on stdout, as a person runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batchmon", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    return out.decode()


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
    return Ledger(history_counts(database_url, ids), asset_states(database_url, ids))


def unapplied_batches(database_url: str, batch_ids: Sequence[str]) -> list[str]:
    rows = fetch_all(
        database_url,
        "select id from public.openai_batches where id = any(%s) and applied_at is null",
        (list(batch_ids),),
    )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Misbehaving:
    """The misbehaving API, a client through it, and a store: what a fault test arranges."""

    server: LiveMisbehavingApi
    client: BatchClient
    store: PostgresStore
    database_url: str

    async def finished_batch(self, count: int) -> tuple[str, list[str]]:
        """Submit ``count`` new assets as one batch and let the simulator finish it."""
        [batch_id], ids = await submit_batches(self.client, self.store, self.database_url, 1, count)
        self.server.simulator.advance(3600)
        return batch_id, ids
