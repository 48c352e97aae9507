"""``python -m batchmon worker`` as a real process: SIGKILL mid-apply, SIGTERM, rerun."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import psycopg

from batchmon.sim.rules import predicted_tags
from batchmon.store.postgres import APPLY_CHUNK
from tests.fixtures.postgres import fetch_all
from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env, spawn_batchmon
from tests.helpers.engine import submit_over_loopback

PROCESS_TIMEOUT = 120.0


async def _submit(live_sim: LiveSim, database_url: str, count: int) -> tuple[str, list[str]]:
    url_prefix = "https://img.example.test/blue-lake"
    (batch_id,), ids = await submit_over_loopback(
        live_sim, database_url, 1, count, url_prefix=url_prefix
    )
    return batch_id, ids


def _applied_counts(database_url: str) -> dict[str, int]:
    rows = fetch_all(
        database_url, "select asset_id::text, count(*) from public.asset_results group by 1"
    )
    return {r[0]: int(r[1]) for r in rows}


async def test_worker_killed_mid_apply_then_rerun_applies_each_asset_exactly_once(
    live_sim: LiveSim, database_url: str, tmp_path: Path
) -> None:
    count = APPLY_CHUNK + 500
    batch_id, ids = await _submit(live_sim, database_url, count)
    live_sim.simulator.advance(3600)
    output_id = live_sim.simulator.batch(batch_id).output_file_id
    assert output_id
    order = [
        json.loads(line)["custom_id"]
        for line in live_sim.simulator.file_content(output_id).splitlines()
    ]
    # Hold a row lock on an asset of the second chunk: the worker commits the first chunk,
    # then blocks inside the second, so the kill lands mid-apply for certain.
    blocker = order[APPLY_CHUNK + 10]
    lock = await psycopg.AsyncConnection.connect(database_url)
    await lock.execute(b"select 1 from public.assets where id = %s for update", (blocker,))
    listen = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    await listen.execute(b"listen batchmon_changes")

    env = cli_env(tmp_path, live_sim)
    # A restarted worker keeps its id (as a service unit would), so it resumes its own
    # claim at once instead of waiting for the lease to run out.
    args = ("worker", "--once", "--min-age", "0s", "--interval", "0s", "--worker-id", "w-1")
    worker = await spawn_batchmon(*args, "--database-url", database_url, env=env)
    try:
        async with asyncio.timeout(PROCESS_TIMEOUT):
            async for note in listen.notifies():
                payload = json.loads(note.payload)
                if payload.get("kind") == "assets" and payload.get("batch_id") == batch_id:
                    break
        worker.send_signal(signal.SIGKILL)
        assert await worker.wait() == -signal.SIGKILL
    finally:
        await lock.rollback()
        await lock.close()
        await listen.close()

    partial = _applied_counts(database_url)
    assert len(partial) == APPLY_CHUNK  # the first chunk, and nothing of the second

    rerun = await spawn_batchmon(*args, "--database-url", database_url, env=env)
    out, err = await asyncio.wait_for(rerun.communicate(), PROCESS_TIMEOUT)
    assert rerun.returncode == 0, err.decode()

    applied = _applied_counts(database_url)
    assert applied == dict.fromkeys(ids, 1)
    rows = fetch_all(database_url, "select image_url, tags, auto_tag_status from public.assets")
    assert all(r[2] == "completed" and r[1] == predicted_tags(r[0]) for r in rows)
    assert f"{count - APPLY_CHUNK} tagged" in out.decode()


async def test_sigterm_stops_the_worker_cleanly_and_releases_its_claims(
    live_sim: LiveSim, database_url: str, tmp_path: Path
) -> None:
    await _submit(live_sim, database_url, 5)
    with psycopg.connect(database_url, autocommit=True) as conn:  # due now, not in a minute
        conn.execute(b"update public.batch_claims set last_polled_at = null")
    env = cli_env(tmp_path, live_sim)
    worker = await spawn_batchmon(
        "worker", "--min-age", "0s", "--interval", "60s", "--database-url", database_url, env=env
    )
    assert worker.stdout is not None and worker.stderr is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        first_pass = await worker.stdout.readline()
    assert first_pass.startswith(b"pass: checked 1"), first_pass

    worker.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(worker.communicate(), PROCESS_TIMEOUT)

    assert worker.returncode == 0, err.decode()
    assert b"Traceback" not in err
    claims = fetch_all(
        database_url, "select count(*) from public.batch_claims where claimed_by is not null"
    )
    assert claims == [(0,)]
    runs = fetch_all(database_url, "select checked, error from public.batch_poll_runs")
    assert runs == [(1, None)]
