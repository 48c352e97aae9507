"""The real ``batchmon`` entry point (main(argv)) against the live simulator and Postgres."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from batchmon.cli.exit_codes import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from batchmon.cli.worker import pass_printer
from batchmon.engine.worker import PassReport
from batchmon.sim.rules import predicted_tags
from batchmon.store.protocol import PollRun
from tests.cli.helpers import Batchmon, run
from tests.fixtures.postgres import PgServer, fetch_all, insert_assets
from tests.fixtures.sim import LiveSim


def last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]


def insert_assets_with_ids(database_url: str, ids: list[str], url_prefix: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            b"insert into public.assets (id, image_url) "
            b"select t.id, %s || '/' || t.n || '.jpg' "
            b"from unnest(%s::uuid[]) with ordinality as t(id, n)",
            (url_prefix, ids),
        )


def make_due_now(database_url: str) -> None:
    """A just-checked batch rests for --interval; these tests want the next pass now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(b"update public.batch_claims set last_polled_at = null")


def test_submit_worker_status_and_runs(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    ids = insert_assets(database_url, 8, url_prefix="https://img.example.test/sunny-beach")

    code, out, _ = batchmon("submit", "--all-untagged")
    assert code == EXIT_OK, out
    [batch_id] = [line.split()[0] for line in out.splitlines() if line.endswith("  submitted")]
    assert batch_id.startswith("batch_") and "8 request(s)" in out
    assert "submitted 1 batch(es) now; 0 wait" in out

    code, out, _ = batchmon("status", "--json")
    status = json.loads(out)
    assert code == EXIT_OK
    [row] = status["batches"]
    assert row["batch_id"] == batch_id and row["pending_assets"] == 8
    assert status["api_requests"] == 1

    sim_env.simulator.advance(3600)
    # --once may check a batch checked a moment ago (0s rest); 30s is the shortest lease.
    once = ("--once", "--min-age", "0s", "--interval", "0s", "--lease", "30s")
    code, out, err = batchmon("worker", *once)
    assert code == EXIT_OK, err
    assert "applied 1" in out and "8 tagged" in out

    rows = fetch_all(
        database_url,
        "select image_url, tags, auto_tag_status from public.assets where id = any(%s::uuid[])",
        (ids,),
    )
    assert all(r[2] == "completed" and r[1] == predicted_tags(r[0]) for r in rows)

    code, out, _ = batchmon("status")
    assert code == EXIT_OK and "no batches pending" in out

    code, out, _ = batchmon("runs", "--json")
    runs = json.loads(out)
    assert code == EXIT_OK
    assert runs["worker_runs"][0]["applied"] == 1 and runs["cron_runs"] is None
    code, out, _ = batchmon("runs")
    assert "pg_cron is not installed" in out


def test_retry_twice_from_the_cli_makes_one_batch_and_cancel_works(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"batchmon-test/cli/{n}")) for n in range(12)]
    insert_assets_with_ids(database_url, ids, "https://img.example.test/old-car")
    direct = ("--direct", "--metadata", "sim_expire=0.5")
    code, out, _ = batchmon("submit", "--all-untagged", *direct)
    assert code == EXIT_OK and "submitted 12 asset(s)" in out
    batch_id = out.split()[0]
    sim_env.simulator.advance(25 * 3600)  # expired: the unfinished half is worth a retry
    # Retry applies the finished batch itself before planning: no worker pass needed.
    code, out, err = batchmon("retry", batch_id)
    assert code == EXIT_OK, err
    # Half the requests ran before the window closed: exactly the other half is resubmitted.
    assert f"retry of {batch_id} created batch_" in out and "(6 asset(s)" in out
    new_id = out.split(" created ")[1].split()[0]
    resubmitted = fetch_all(
        database_url, "select id::text from public.assets where openai_batch_id = %s", (new_id,)
    )
    completed = fetch_all(
        database_url, "select id::text from public.assets where auto_tag_status = 'completed'"
    )
    assert len(resubmitted) == 6 and len(completed) == 6
    assert {r[0] for r in resubmitted} | {r[0] for r in completed} == set(ids)

    code, out, _ = batchmon("retry", batch_id)
    assert code == EXIT_OK
    assert f"already existed as {new_id}" in out
    retries = [
        b
        for b in sim_env.simulator.list_batches(limit=100)["data"]
        if (b.get("metadata") or {}).get("retry_of") == batch_id
    ]
    assert [b["id"] for b in retries] == [new_id]

    code, out, _ = batchmon("cancel", new_id)
    assert code == EXIT_OK and out.split() == [new_id, "cancelling"]


def test_expected_errors_give_a_message_and_an_exit_code_not_a_traceback(
    clean_env: dict[str, str], batchmon: Batchmon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = batchmon("retry", "batch_x")
    assert code == EXIT_CONFIG and "OPENAI_API_KEY" in err and "Traceback" not in err

    code, _, err = run(capsys, "status", "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert code == EXIT_ERROR and "cannot connect to the database" in err
    assert "Traceback" not in err

    code, _, err = batchmon("worker", "--interval", "soon")
    assert code == EXIT_USAGE and "not a duration" in err

    code, out, _ = batchmon("status", "--offline")
    assert code == EXIT_OK and "no batches pending" in out


def test_unknown_batch_is_a_clear_api_error(sim_env: LiveSim, batchmon: Batchmon) -> None:
    code, _, err = batchmon("retry", "batch_missing")
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


def test_a_rejected_api_key_is_a_configuration_error_for_the_worker(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert_assets(database_url, 2, url_prefix="https://img.example.test/red-fox")
    code, out, _ = batchmon("submit", "--all-untagged")
    assert code == EXIT_OK, out
    wrong_key = "sk-wrong-key-0000"
    monkeypatch.setenv("OPENAI_API_KEY", wrong_key)

    for mode in (("--once", "--interval", "0s"), ("--interval", "1s")):
        make_due_now(database_url)
        code, _, err = batchmon("worker", *mode, "--min-age", "0s")
        assert code == EXIT_CONFIG, err
        assert last_line(err).startswith("batchmon: error:") and "key" in last_line(err)
        assert "Traceback" not in err and wrong_key not in err

    runs = fetch_all(database_url, "select error from public.batch_poll_runs")
    assert len(runs) == 2
    assert all("AuthenticationFailed" in error and wrong_key not in error for (error,) in runs)
    claims = fetch_all(
        database_url, "select count(*) from public.batch_claims where claimed_by is not null"
    )
    assert claims == [(0,)]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (("--interval", "0s"), "--interval"),
        (("--interval", "0.5s"), "--interval"),
        (("--lease", "0s"), "--lease"),
        (("--once", "--lease", "29s"), "--lease"),
    ],
)
def test_the_worker_refuses_a_pause_or_lease_too_short(
    clean_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    option: str,
) -> None:
    code, _, err = run(capsys, "worker", *argv)
    assert code == EXIT_USAGE
    assert last_line(err).startswith(f"batchmon worker: error: argument {option}:")
    assert "too short: at least" in last_line(err)


@pytest.mark.parametrize(("took", "warned"), [(31.0, True), (29.0, False)])
def test_a_pass_longer_than_the_lease_is_flagged(
    capsys: pytest.CaptureFixture[str], took: float, warned: bool
) -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    run_ = PollRun(started, started + timedelta(seconds=took), checked=3, applied=1, failed=0)
    pass_printer(timedelta(seconds=30))(PassReport(run=run_, requests=2))
    out, err = capsys.readouterr()
    assert out.startswith("pass: checked 3, applied 1, failed 0, 2 API request(s)")
    assert ("longer than the 30s lease" in err and "raise --lease" in err) is warned
