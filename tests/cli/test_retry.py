"""``batchmon retry``: permanent failures are named and left out unless included."""

from __future__ import annotations

from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK
from tests.cli.helpers import Batchmon
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.fixtures.sim import LiveSim

# The simulator fails this share of requests with invalid_image_url (HTTP 400): permanent.
FAILING = ("--direct", "--metadata", "sim_fail_fraction=0.3")
ONCE = ("--once", "--min-age", "0s", "--interval", "0s", "--lease", "30s")


def _left_out_lines(err: str) -> dict[str, str]:
    return {
        line.split()[2].rstrip(":"): line
        for line in err.splitlines()
        if line.startswith("left out ")
    }


def _failed_ids(database_url: str) -> set[str]:
    rows = fetch_all(
        database_url, "select id::text from public.assets where auto_tag_status = 'failed'"
    )
    return {r[0] for r in rows}


def test_retry_names_each_permanent_failure_and_includes_them_when_asked(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    insert_assets(database_url, 20, url_prefix="https://img.example.test/red-barn")
    code, out, _ = batchmon("submit", "--all-untagged", *FAILING)
    assert code == EXIT_OK
    batch_id = out.split()[0]
    sim_env.simulator.advance(3600)
    assert batchmon("worker", *ONCE)[0] == EXIT_OK
    failed = _failed_ids(database_url)
    assert failed  # the scripted share, every one of them permanent

    code, out, err = batchmon("retry", batch_id)
    assert code == EXIT_ERROR and "Traceback" not in err
    left_out = _left_out_lines(err)
    assert set(left_out) == failed
    assert all("HTTP 400" in line and "permanent" in line for line in left_out.values())
    assert f"batchmon retry {batch_id} --include-permanent" in err
    assert "permanent" in err.splitlines()[-1]  # the error line says why nothing was sent

    code, out, err = batchmon("retry", batch_id, "--include-permanent")
    assert code == EXIT_OK, err
    assert f"({len(failed)} asset(s)" in out and not _left_out_lines(err)
    new_id = out.split(" created ")[1].split()[0]
    moved = fetch_all(
        database_url, "select id::text from public.assets where openai_batch_id = %s", (new_id,)
    )
    assert {r[0] for r in moved} == failed


def test_retry_sends_what_can_succeed_and_lists_what_it_left_out(
    sim_env: LiveSim, database_url: str, batchmon: Batchmon
) -> None:
    insert_assets(database_url, 40, url_prefix="https://img.example.test/blue-boat")
    code, out, _ = batchmon("submit", "--all-untagged", *FAILING, "--metadata", "sim_expire=0.5")
    batch_id = out.split()[0]
    sim_env.simulator.advance(25 * 3600)  # expired: the unfinished requests may succeed

    code, out, err = batchmon("retry", batch_id)
    assert code == EXIT_OK, err
    left_out = _left_out_lines(err)
    assert left_out and "permanent failure(s) left out" in out
    new_id = out.split(" created ")[1].split()[0]
    moved = {
        r[0]
        for r in fetch_all(
            database_url,
            "select id::text from public.assets where openai_batch_id = %s",
            (new_id,),
        )
    }
    assert moved and not moved & set(left_out)
    assert f"to send these {len(left_out)} unchanged anyway" in err
