"""Crash safety: SIGKILL a real ``batchmon worker`` process at seeded random points.

Each round finishes a few more batches in the simulator, starts ``python -m batchmon
worker --once`` (which also picks up whatever the last killed run left), and kills it
after a seeded number of database change notifications (status recorded, a chunk
applied, a batch finished), sometimes while it is blocked inside an apply transaction on
a row lock: a worker in a crash loop. A final run must then apply the rest, and the
append-only ``asset_results`` history must hold exactly one row per asset: nothing lost,
nothing applied twice. CI runs 5 kills; RELIABILITY_FULL=1 runs the documented 20.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from pathlib import Path

import psycopg

from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env, spawn_batchmon
from tests.helpers.engine import submit_over_loopback
from tests.reliability.helpers import ledger, unapplied_batches
from tests.reliability.sizes import size

SEED = 20_260_101
BATCHES_PER_ROUND = 3
ASSETS_PER_BATCH = 200
PROCESS_TIMEOUT = 120.0
WORKER_ARGS = ("worker", "--once", "--min-age", "0s", "--interval", "0s", "--worker-id", "w-k")


async def _spawn(database_url: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await spawn_batchmon(*WORKER_ARGS, "--database-url", database_url, env=env)


async def _round_of_batches(live_sim: LiveSim, database_url: str) -> tuple[list[str], list[str]]:
    batch_ids, ids = await submit_over_loopback(
        live_sim,
        database_url,
        BATCHES_PER_ROUND,
        ASSETS_PER_BATCH,
        url_prefix="https://img.test/owl",
    )
    live_sim.simulator.advance(3600)
    return batch_ids, ids


def _is_apply_note(payload: str) -> bool:
    """A chunk of results committed, or a batch marked applied."""
    note = json.loads(payload)
    return bool(note.get("kind") == "assets" or note.get("applied"))


async def _kill_after(
    worker: asyncio.subprocess.Process, listen: psycopg.AsyncConnection, notes: int
) -> None:
    """SIGKILL the worker once its applies have caused ``notes`` change notifications."""
    seen = 0
    async with asyncio.timeout(PROCESS_TIMEOUT):
        async for note in listen.notifies():
            seen += _is_apply_note(note.payload)
            if seen >= notes:
                break
    worker.send_signal(signal.SIGKILL)
    assert await worker.wait() == -signal.SIGKILL, "the worker finished before the kill point"


async def test_sigkill_at_seeded_points_then_rerun_applies_every_asset_exactly_once(
    live_sim: LiveSim, database_url: str, tmp_path: Path
) -> None:
    rounds = size(5, 20)
    rng = random.Random(SEED)
    env = cli_env(tmp_path, live_sim)
    all_ids: list[str] = []
    all_batches: list[str] = []
    partial_rounds = 0
    for _ in range(rounds):
        batch_ids, ids = await _round_of_batches(live_sim, database_url)
        all_ids += ids
        all_batches += batch_ids
        hold_lock = rng.random() < 0.5
        # Each batch applied makes two notes (its chunk, then "applied"); while a row
        # lock holds one fresh batch, the other two can still make four.
        notes = rng.randint(1, 4 if hold_lock else 5)
        lock = await psycopg.AsyncConnection.connect(database_url)
        listen = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
        try:
            if hold_lock:
                victim = rng.choice(ids)
                await lock.execute(
                    b"select 1 from public.assets where id = %s for update", (victim,)
                )
            await listen.execute(b"listen batchmon_changes")
            worker = await _spawn(database_url, env)
            await _kill_after(worker, listen, notes)
        finally:
            await lock.rollback()
            await lock.close()
            await listen.close()
        applied = sum(1 for n in ledger(database_url, all_ids).history.values() if n)
        if 0 < applied < len(all_ids):
            partial_rounds += 1

    rerun = await _spawn(database_url, env)
    _, err = await asyncio.wait_for(rerun.communicate(), PROCESS_TIMEOUT)
    assert rerun.returncode == 0, err.decode()
    assert b"Traceback" not in err

    assert unapplied_batches(database_url, all_batches) == []
    books = ledger(database_url, all_ids)
    assert books.lost == []
    assert books.applied_twice == []
    assert books.wrong_tags() == []
    assert partial_rounds > 0, "no kill landed mid-apply: the seeds proved nothing"
