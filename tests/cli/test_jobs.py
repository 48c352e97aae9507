"""``batchmon jobs``, ``jobs show`` and ``jobs cancel`` through the real entry point."""

from __future__ import annotations

import asyncio
import json

import pytest

from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from batchmon.store.postgres import PostgresStore
from tests.cli.helpers import run
from tests.fixtures.postgres import insert_assets
from tests.fixtures.sim import LiveSim


async def _planned_job(database_url: str, asset_ids: list[str], per_batch: int) -> str:
    """A job of planned batches as the submitter stores them, nothing sent yet."""
    store = await PostgresStore.open(database_url)
    try:
        job = await store.create_job("gpt-4o-mini", "/v1/chat/completions", max_cost=5.0)
        for start in range(0, len(asset_ids), per_batch):
            await store.add_job_batch(
                job,
                asset_ids[start : start + per_batch],
                byte_size=1000,
                estimated_tokens=480_000,
                estimated_cost=0.04,
            )
        return job
    finally:
        await store.close()


def test_jobs_lists_shows_and_cancels_a_job(
    sim_env: LiveSim, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = insert_assets(database_url, 30, url_prefix="https://img.example.test/green-field")
    job = asyncio.run(_planned_job(database_url, ids, 10))
    db = ("--database-url", database_url)

    code, out, _ = run(capsys, "jobs", *db)
    assert code == EXIT_OK
    header, row = out.splitlines()
    assert header.split()[:3] == ["JOB", "STATUS", "PROGRESS"]
    assert row.split()[:3] == [job, "running", "0/30"] and "3/0/0" in row

    code, out, _ = run(capsys, "jobs", "--json", *db)
    [record] = json.loads(out)["jobs"]
    assert record["job_id"] == job and record["assets"] == 30
    assert record["batches_queued"] == 3 and record["eta_seconds"] is None
    assert record["max_cost_usd"] == 5.0

    code, out, _ = run(capsys, "jobs", "show", job, *db)
    assert code == EXIT_OK
    assert f"job {job}  running" in out and "3 queued, 0 running, 0 done" in out
    assert "cap $5.00" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [r[:2] for r in rows] == [["1", "queued"], ["2", "queued"], ["3", "queued"]]

    code, out, _ = run(capsys, "jobs", "cancel", job, *db)
    assert code == EXIT_OK, out
    assert "3 queued batch(es) dropped, 0 running batch(es) cancelled" in out
    code, out, _ = run(capsys, "jobs", "show", job, "--json", *db)
    shown = json.loads(out)
    assert shown["status"] == "cancelled"
    assert {b["state"] for b in shown["batches"]} == {"cancelled"}


def test_unknown_or_malformed_job_ids_are_one_line_errors(
    sim_env: LiveSim, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    code, out, _ = run(capsys, "jobs", *db)
    assert code == EXIT_OK and "no jobs" in out
    missing = "6f1c1f5e-0000-4000-8000-000000000000"
    for action in ("show", "cancel"):
        code, _, err = run(capsys, "jobs", action, missing, *db)
        assert code == EXIT_ERROR and f"no job {missing}" in err and "Traceback" not in err
    code, _, err = run(capsys, "jobs", "show", "job-1", *db)
    assert code == EXIT_USAGE and "not a job id" in err
