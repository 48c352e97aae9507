"""The real ``batchmon`` entry point (main(argv)) against the live simulator and Postgres."""

from __future__ import annotations

import json

import pytest

from batchmon.cli import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, EXIT_USAGE, main
from batchmon.sim.rules import predicted_tags
from tests.fixtures.postgres import PgServer, fetch_all, insert_assets
from tests.fixtures.sim import LiveSim


@pytest.fixture
def sim_env(
    clean_env: dict[str, str], live_sim: LiveSim, monkeypatch: pytest.MonkeyPatch
) -> LiveSim:
    monkeypatch.setenv("OPENAI_API_KEY", live_sim.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", live_sim.base_url)
    return live_sim


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_worker_status_and_runs(
    sim_env: LiveSim, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = insert_assets(database_url, 8, url_prefix="https://img.example.test/sunny-beach")
    db = ("--database-url", database_url)

    code, out, _ = run(capsys, "submit", "--all-untagged", *db)
    assert code == EXIT_OK, out
    batch_id = out.split()[0]
    assert batch_id.startswith("batch_") and "submitted 8 asset(s) in 1 batch(es)" in out

    code, out, _ = run(capsys, "status", "--json", *db)
    status = json.loads(out)
    assert code == EXIT_OK
    [row] = status["batches"]
    assert row["batch_id"] == batch_id and row["pending_assets"] == 8
    assert status["api_requests"] == 1

    sim_env.simulator.advance(3600)
    code, out, err = run(capsys, "worker", "--once", "--min-age", "0s", "--interval", "0s", *db)
    assert code == EXIT_OK, err
    assert "applied 1" in out and "8 tagged" in out

    rows = fetch_all(
        database_url,
        "select image_url, tags, auto_tag_status from public.assets where id = any(%s::uuid[])",
        (ids,),
    )
    assert all(r[2] == "completed" and r[1] == predicted_tags(r[0]) for r in rows)

    code, out, _ = run(capsys, "status", *db)
    assert code == EXIT_OK and "no batches pending" in out

    code, out, _ = run(capsys, "runs", "--json", *db)
    runs = json.loads(out)
    assert code == EXIT_OK
    assert runs["worker_runs"][0]["applied"] == 1 and runs["cron_runs"] is None
    code, out, _ = run(capsys, "runs", *db)
    assert "pg_cron is not installed" in out


def test_retry_twice_from_the_cli_makes_one_batch_and_cancel_works(
    sim_env: LiveSim, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    insert_assets(database_url, 12, url_prefix="https://img.example.test/old-car")
    db = ("--database-url", database_url)
    code, out, _ = run(capsys, "submit", "--all-untagged", "--metadata", "sim_expire=0.5", *db)
    batch_id = out.split()[0]
    sim_env.simulator.advance(25 * 3600)  # expired: the unfinished half is worth a retry
    # Retry applies the finished batch itself before planning: no worker pass needed.
    code, out, err = run(capsys, "retry", batch_id, *db)
    assert code == EXIT_OK, err
    assert f"retry of {batch_id} created batch_" in out
    new_id = out.split(" created ")[1].split()[0]

    code, out, _ = run(capsys, "retry", batch_id, *db)
    assert code == EXIT_OK
    assert f"already existed as {new_id}" in out
    retries = [
        b
        for b in sim_env.simulator.list_batches(limit=100)["data"]
        if (b.get("metadata") or {}).get("retry_of") == batch_id
    ]
    assert [b["id"] for b in retries] == [new_id]

    code, out, _ = run(capsys, "cancel", new_id, *db)
    assert code == EXIT_OK and out.split() == [new_id, "cancelling"]


def test_expected_errors_give_a_message_and_an_exit_code_not_a_traceback(
    clean_env: dict[str, str], database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    code, _, err = run(capsys, "retry", "batch_x", *db)
    assert code == EXIT_CONFIG and "OPENAI_API_KEY" in err and "Traceback" not in err

    code, _, err = run(capsys, "status", "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert code == EXIT_ERROR and "cannot connect to the database" in err
    assert "Traceback" not in err

    code, _, err = run(capsys, "worker", "--interval", "soon", *db)
    assert code == EXIT_USAGE and "not a duration" in err

    code, out, _ = run(capsys, "status", "--offline", *db)
    assert code == EXIT_OK and "no batches pending" in out


def test_unknown_batch_is_a_clear_api_error(
    sim_env: LiveSim, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "retry", "batch_missing", "--database-url", database_url)
    assert code == EXIT_ERROR
    assert "batch_missing" in err and "Traceback" not in err


def test_db_migrate_installs_then_reports_up_to_date(
    clean_env: dict[str, str], pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "t_cli_migrate"
    url = pg_server.create_database(name, template=None)
    try:
        code, out, _ = run(capsys, "db", "migrate", "--database-url", url)
        assert code == EXIT_OK and "applied 001_" in out
        code, out, _ = run(capsys, "db", "migrate", "--database-url", url)
        assert code == EXIT_OK and "up to date" in out
    finally:
        pg_server.drop_database(name)
