"""The long-running ``batchmon worker`` survives every malformed answer and records it.

A real worker process polls the simulator through :mod:`misbehaving_api`, which answers
its list requests with an HTML page, broken JSON and an object of the wrong shape, and
its download with an HTML page. Each pass that met one is in ``batch_poll_runs`` with the
error (so ``batchmon runs`` shows it); the process keeps running and applies the batch
once the server answers properly.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from batchmon.engine.worker import Worker, WorkerConfig
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, fetch_all
from tests.helpers.cli import cli_env
from tests.reliability.helpers import Misbehaving, batchmon_output, ledger, submit_batches
from tests.reliability.misbehaving_api import LiveMisbehavingApi

PROCESS_TIMEOUT = 90.0
LIST = r"GET /v1/batches$"
DUE = "where next_check_at > now()"
WAITING = f"select state from public.batch_results_state {DUE}"


async def _passes_until_applied(
    worker: asyncio.subprocess.Process, database_url: str
) -> tuple[list[str], list[str]]:
    """The worker's pass lines up to the one that applied a batch, and the states seen.

    After each pass a refetch backoff recorded on the row is moved to now: the clock
    the worker reads from the database, moved on instead of waited for.
    """
    assert worker.stdout is not None
    seen: list[str] = []
    states: list[str] = []
    while True:
        raw = await worker.stdout.readline()
        assert raw, f"the worker ended (exit {await worker.wait()}) after {seen}"
        line = raw.decode().strip()
        if not line.startswith("pass:"):
            continue
        seen.append(line)
        if "applied 1," in line:
            return seen, states
        states += [row[0] for row in fetch_all(database_url, WAITING)]
        execute(database_url, f"update public.batch_results_state set next_check_at = now() {DUE}")


async def test_the_worker_process_outlives_malformed_answers(
    misbehaving: Misbehaving, tmp_path: Path
) -> None:
    misbehaving_api, store, database_url = (
        misbehaving.server,
        misbehaving.store,
        misbehaving.database_url,
    )
    batch_id, ids = await misbehaving.finished_batch(20)
    for kind in ("html", "broken_json", "wrong_shape"):
        misbehaving_api.api.add(kind, LIST)
    misbehaving_api.api.add("html", r"GET /v1/files/.*/content")
    env = cli_env(tmp_path)
    env["OPENAI_API_KEY"] = misbehaving_api.api_key
    env["OPENAI_BASE_URL"] = misbehaving_api.base_url
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "batchmon", "worker", "--interval", "1s", "--min-age", "0s"),
        *("--worker-id", "w-survivor", "--database-url", database_url),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        passes, states = await asyncio.wait_for(
            _passes_until_applied(worker, database_url), PROCESS_TIMEOUT
        )
        assert worker.returncode is None  # still running
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(worker.communicate(), PROCESS_TIMEOUT)

    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert "Traceback" not in stderr.decode()
    assert [kind for kind, _ in misbehaving_api.api.corrupted] == [
        "html",
        "broken_json",
        "wrong_shape",
        "html",
    ]
    errors = [
        row[0]
        for row in fetch_all(
            database_url,
            "select error from public.batch_poll_runs where worker_id = 'w-survivor' "
            "order by started_at",
        )
    ]
    assert len(passes) == len(errors)
    failed = [e for e in errors if e is not None]
    assert len(failed) == 4
    assert all("MalformedResponse: list batches:" in e for e in failed[:3])
    assert f"{batch_id}: MalformedResponse: download file" in failed[3]
    assert "HTML page" in failed[3]
    assert errors[-1] is None
    assert states == ["refetching"]  # after the HTML download, fetched again later
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is not None
    assert await store.results_states([batch_id]) == {}
    shown = await batchmon_output(env, "runs", "--database-url", database_url)
    assert shown.count("MalformedResponse: list batches") == 3
    book = ledger(database_url, ids)
    assert book.lost == [] and book.applied_twice == []
    assert len(book.completed) == len(ids)


async def test_a_failed_pass_backs_off_and_a_clean_one_resets(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    await submit_batches(misbehaving_client, store, database_url, 1, 2)
    misbehaving_api.api.add("html", LIST, times=2)
    worker = Worker(
        misbehaving_client,
        store,
        WorkerConfig(interval=timedelta(seconds=30), min_age=timedelta(0), worker_id="w-b"),
    )
    store_clock = "update public.batch_claims set last_polled_at = now() - interval '1 hour'"

    execute(database_url, store_clock)
    first = await worker.run_once()
    assert first.run.error is not None and worker.pass_backoff() == timedelta(seconds=30)
    worker._failed_passes += 1  # as after a second failed pass, without waiting for it
    assert worker.pass_backoff() == timedelta(seconds=60)
    worker.config = replace(worker.config, interval=timedelta(0))
    execute(database_url, store_clock)
    assert (await worker.run_once()).run.error is not None  # the second html answer
    execute(database_url, store_clock)
    assert (await worker.run_once()).run.error is None
    assert worker.pass_backoff() == timedelta(0)
