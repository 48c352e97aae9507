"""``batchmon jobs``, ``jobs show`` and ``jobs cancel`` through the real entry point."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import Any

import pytest

from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from batchmon.core.requests import CHAT_COMPLETIONS, build_tag_request
from batchmon.core.tokens import request_tokens
from batchmon.store.postgres import PostgresStore
from tests.cli.helpers import Batchmon
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.fixtures.sim import LiveSim
from tests.helpers.jobs import LIMIT, MODEL, ONE_REQUEST, SIM_LIMIT, openai_batches_of_job


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
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    ids = insert_assets(database_url, 30, url_prefix="https://img.example.test/green-field")
    job = asyncio.run(_planned_job(database_url, ids, 10))

    code, out, _ = batchmon("jobs")
    assert code == EXIT_OK
    header, row = out.splitlines()
    assert header.split()[:3] == ["JOB", "STATUS", "PROGRESS"]
    assert row.split()[:3] == [job, "running", "0/30"] and "3/0/0" in row

    code, out, _ = batchmon("jobs", "--json")
    [record] = json.loads(out)["jobs"]
    assert record["job_id"] == job and record["assets"] == 30
    assert record["batches_queued"] == 3 and record["eta_seconds"] is None
    assert record["max_cost_usd"] == 5.0 and record["image_size"] is None

    code, out, _ = batchmon("jobs", "show", job)
    assert code == EXIT_OK
    assert f"job {job}  running" in out and "3 queued, 0 running, 0 done" in out
    assert "cap $5.00" in out and "images" not in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [r[:2] for r in rows] == [["1", "queued"], ["2", "queued"], ["3", "queued"]]

    code, out, _ = batchmon("jobs", "cancel", job)
    assert code == EXIT_OK, out
    assert "3 queued batch(es) dropped, 0 running batch(es) cancelled" in out
    code, out, _ = batchmon("jobs", "show", job, "--json")
    shown = json.loads(out)
    assert shown["status"] == "cancelled"
    assert {b["state"] for b in shown["batches"]} == {"cancelled"}


def test_unknown_or_malformed_job_ids_are_one_line_errors(
    sim_env: LiveSim, batchmon: Batchmon
) -> None:
    code, out, _ = batchmon("jobs")
    assert code == EXIT_OK and "no jobs" in out
    missing = "6f1c1f5e-0000-4000-8000-000000000000"
    for action in ("show", "cancel"):
        code, _, err = batchmon("jobs", action, missing)
        assert code == EXIT_ERROR and f"no job {missing}" in err and "Traceback" not in err
    code, _, err = batchmon("jobs", "show", "job-1")
    assert code == EXIT_USAGE and "not a job id" in err


ONCE = ("--once", "--min-age", "0s", "--interval", "0s", "--lease", "30s")


async def _set_limit(database_url: str, model: str, limit: int) -> None:
    store = await PostgresStore.open(database_url)
    try:
        await store.set_model_limit(model, limit)
    finally:
        await store.close()


def _job_record(batchmon: Batchmon) -> dict[str, Any]:
    """The one job there is, as ``batchmon jobs --json`` shows it."""
    code, out, _ = batchmon("jobs", "--json")
    assert code == EXIT_OK
    [record] = json.loads(out)["jobs"]
    return dict(record)


def test_submit_shows_the_plan_and_the_job_drains_through_the_queue(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    """12 assets, room in the queue for one batch of four at a time: three batches, sent
    one after the other as the one in progress finishes, none refused."""
    ids = insert_assets(database_url, 12, url_prefix="https://img.example.test/grey-owl")
    asyncio.run(_set_limit(database_url, MODEL, LIMIT))
    sim_env.simulator.configure(queue={"enqueued_token_limits": {MODEL: SIM_LIMIT}})

    code, out, err = batchmon("submit", "--all-untagged")
    assert code == EXIT_OK, err
    assert f"plan: 12 request(s) in 3 batch(es), {MODEL}" in out
    assert f"{12 * ONE_REQUEST:,} estimated prompt tokens" in out
    assert f"queue limit {LIMIT:,}" in out
    assert "at batch prices, saving $" in out
    assert "submitted 1 batch(es) now; 2 wait for queue room" in out
    job = _job_record(batchmon)
    assert (job["batches_queued"], job["batches_running"], job["batches_done"]) == (2, 1, 0)
    assert job["tokens_enqueued"] == 4 * ONE_REQUEST and job["token_limit"] == LIMIT
    assert job["estimated_cost_usd"] > 0

    for _ in range(10):  # each round: the batch in progress finishes, the next one goes
        sim_env.simulator.advance(3600)
        assert batchmon("worker", *ONCE)[0] == EXIT_OK
        job = _job_record(batchmon)
        if job["status"] != "running":
            break
    assert job["status"] == "done" and job["completed"] == 12 and job["failed"] == 0
    assert job["actual_cost_usd"] > 0 and job["eta_seconds"] is None
    batches = openai_batches_of_job(database_url, job["job_id"])
    assert [status for _, status in batches] == ["completed"] * 3  # none refused
    states = fetch_all(database_url, "select auto_tag_status from public.assets")
    assert sorted(s for (s,) in states) == ["completed"] * len(ids)

    code, out, _ = batchmon("jobs", "show", job["job_id"])
    assert "12/12 100%: 12 completed, 0 failed" in out and "0 queued, 0 running, 3 done" in out


def test_a_budget_caps_what_is_submitted_and_a_no_on_the_terminal_submits_nothing(
    sim_env: LiveSim,
    database_url: str,
    batchmon: Batchmon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    insert_assets(database_url, 12, url_prefix="https://img.example.test/tall-tree")
    asyncio.run(_set_limit(database_url, MODEL, LIMIT))

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, _ = batchmon("submit", "--all-untagged")
    assert code == EXIT_OK and "submit this job? [y/N]" in out and "nothing submitted" in out
    assert "no jobs" in batchmon("jobs")[1]

    code, out, _ = batchmon("submit", "--all-untagged", "--max-cost", "0.000001", "--yes")
    assert code == EXIT_OK
    assert "budget $0.00: 0 of 3 batch(es) within it" in out
    assert "submitted 0 batch(es) now" in out
    job = _job_record(batchmon)
    assert job["max_cost_usd"] == 0.000001 and job["batches_running"] == 0

    code, _, err = batchmon("submit", "--all-untagged", "--metadata", "a=b")
    assert code == EXIT_USAGE and "only with --direct" in err
    code, _, err = batchmon("submit", "--all-untagged", "--max-cost", "-3")
    assert code == EXIT_USAGE and "positive amount" in err


def _estimated_cost(out: str) -> float:
    return float(out.split("estimated cost: $", 1)[1].split()[0].replace(",", ""))


def test_a_known_image_size_plans_fewer_tokens_batches_and_dollars(
    sim_env: LiveSim,
    database_url: str,
    batchmon: Batchmon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unknown sizes count as the costliest image; 512x512 is one tile, so the same
    assets fit fewer batches of the same limit and cost less."""
    insert_assets(database_url, 12, url_prefix="https://img.example.test/red-kite")
    asyncio.run(_set_limit(database_url, MODEL, LIMIT))
    sized = request_tokens(
        build_tag_request("x", "https://img.example.test/red-kite/0.jpg", model=MODEL)["body"],
        CHAT_COMPLETIONS,
        image_size=(512, 512),
    )
    assert sized < ONE_REQUEST

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, costliest, _ = batchmon("submit", "--all-untagged")
    assert code == EXIT_OK and "in 3 batch(es)" in costliest and "nothing submitted" in costliest

    code, out, err = batchmon("submit", "--all-untagged", "--image-size", "512x512", "-y")
    assert code == EXIT_OK, err
    assert f"{12 * sized:,} estimated prompt tokens" in out
    assert _estimated_cost(out) < _estimated_cost(costliest)
    job = _job_record(batchmon)
    code, shown, _ = batchmon("jobs", "show", job["job_id"], "--json")
    batches = json.loads(shown)["batches"]
    assert sum(b["estimated_tokens"] for b in batches) == 12 * sized
    assert 1 <= len(batches) < 3
    assert job["image_size"] == json.loads(shown)["image_size"] == [512, 512]
    code, shown, _ = batchmon("jobs", "show", job["job_id"])
    assert "images    512x512" in shown

    for bad in ("512", "0x512", "big"):
        code, _, err = batchmon("submit", "--all-untagged", "--image-size", bad)
        assert code == EXIT_USAGE and "WIDTHxHEIGHT" in err


@pytest.mark.parametrize(
    ("flags", "planned_at"),
    [
        ((), [512, 512]),
        (("--image-size", "1024x768"), [1024, 768]),
        (("--image-size", "unknown"), None),
    ],
)
def test_submit_plans_at_the_image_size_setting_unless_the_flag_says_otherwise(
    sim_env: LiveSim,
    database_url: str,
    batchmon: Batchmon,
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    planned_at: list[int] | None,
) -> None:
    monkeypatch.setenv("BATCHMON_IMAGE_SIZE", "512x512")
    insert_assets(database_url, 3, url_prefix="https://img.example.test/barn-owl")
    code, _, err = batchmon("submit", "--all-untagged", *flags, "-y")
    assert code == EXIT_OK, err
    assert _job_record(batchmon)["image_size"] == planned_at


class _Terminal(io.StringIO):
    """Standard input as a person at a terminal types it."""

    def isatty(self) -> bool:
        return True


def test_jobs_limits_lists_configures_and_clears_a_models_limit(
    sim_env: LiveSim, batchmon: Batchmon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHMON_TOKEN_LIMITS", "gpt-4.1=450000")

    code, out, _ = batchmon("jobs", "limits", "--json")
    assert code == EXIT_OK
    shown = {row["model"]: row for row in json.loads(out)["limits"]}
    assert shown["gpt-4o"]["enqueued_token_limit"] == 90_000
    assert shown["gpt-4o"]["source"] == "default"
    assert shown["gpt-4o"]["tokens_enqueued"] is None  # counted only for a stored limit
    assert (shown["gpt-4.1"]["enqueued_token_limit"], shown["gpt-4.1"]["source"]) == (
        450_000,
        "settings",
    )

    code, out, _ = batchmon("jobs", "limits", "gpt-4o", "30000000")
    assert code == EXIT_OK and "gpt-4o: 30,000,000 enqueued tokens (configured)" in out
    code, out, _ = batchmon("jobs", "limits")
    [row] = [line.split() for line in out.splitlines() if line.startswith("gpt-4o ")]
    assert row == ["gpt-4o", "30,000,000", "configured", "0"]

    code, out, _ = batchmon("jobs", "limits", "gpt-4o", "--clear")
    assert code == EXIT_OK and "stored limit cleared; now 90,000 (default)" in out
    code, out, _ = batchmon("jobs", "limits", "--json")
    shown = {row["model"]: row for row in json.loads(out)["limits"]}
    assert (shown["gpt-4o"]["enqueued_token_limit"], shown["gpt-4o"]["source"]) == (
        90_000,
        "default",
    )
    code, out, _ = batchmon("jobs", "limits", "gpt-4o", "--clear")
    assert code == EXIT_OK and "no stored limit; it uses 90,000 (default)" in out


def test_jobs_limits_refuses_incomplete_or_bad_arguments(
    sim_env: LiveSim, batchmon: Batchmon
) -> None:
    for argv, says in [
        (("gpt-4o",), "give TOKENS"),
        (("gpt-4o", "0"), "TOKENS"),
        (("--clear",), "needs a MODEL"),
        (("gpt-4o", "5", "--clear"), "not both"),
    ]:
        code, _, err = batchmon("jobs", "limits", *argv)
        assert code == EXIT_USAGE and says in err, (argv, err)
    code, out, _ = batchmon("jobs", "limits", "--json")
    assert all(row["source"] == "default" for row in json.loads(out)["limits"])


def test_a_limit_from_the_settings_plans_the_job_and_paces_the_worker(
    sim_env: LiveSim,
    database_url: str,
    batchmon: Batchmon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No stored limit: the settings' figure, not the tier-1 default, bounds each batch and
    the worker's queue (room for one batch of four at a time)."""
    insert_assets(database_url, 12, url_prefix="https://img.example.test/blue-lake")
    monkeypatch.setenv("BATCHMON_TOKEN_LIMITS", f"{MODEL}={LIMIT}")

    code, out, err = batchmon("submit", "--all-untagged", "--yes")
    assert code == EXIT_OK, err
    assert f"plan: 12 request(s) in 3 batch(es), {MODEL}" in out
    assert f"queue limit {LIMIT:,}" in out
    assert "submitted 1 batch(es) now; 2 wait for queue room" in out

    sim_env.simulator.advance(3600)
    assert batchmon("worker", *ONCE)[0] == EXIT_OK
    job = _job_record(batchmon)
    assert (job["batches_queued"], job["batches_running"], job["batches_done"]) == (1, 1, 1)
