"""The embedded server: starts migrated, and refuses a data dir another batchmon holds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from batchmon.store import StoreError
from batchmon.store.embedded import EmbeddedPostgres, EmbeddedPostgresBusy
from batchmon.store.migrate import available_migrations
from tests.fixtures.postgres import server_dir

HOLDER = textwrap.dedent(
    """
    import sys
    from batchmon.store.embedded import EmbeddedPostgres
    pg = EmbeddedPostgres(sys.argv[1])
    print(pg.start(), flush=True)
    sys.stdin.read()  # hold the data dir until the test closes our stdin
    pg.stop()
    """
)


def test_start_gives_a_migrated_database_and_a_second_instance_is_refused() -> None:
    data_dir = server_dir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        uri = holder.stdout.readline().strip()
        assert uri, "the holder process did not start the database"
        with psycopg.connect(uri) as conn:
            names = conn.execute("select name from batchmon_schema_migrations order by 1")
            assert [n for (n,) in names] == [m.name for m in available_migrations()]
            assert conn.execute("select current_database()").fetchone() == ("batchmon",)

        second = EmbeddedPostgres(data_dir)
        with pytest.raises(EmbeddedPostgresBusy) as busy:
            second.start()
        message = str(busy.value)
        assert f"process {holder.pid}" in message and uri in message
        assert not second.running

        holder.stdin.close()
        assert holder.wait(timeout=60) == 0

        # Once the holder is gone the data dir is free; the data is still there.
        with EmbeddedPostgres(data_dir) as again, psycopg.connect(again.uri()) as conn:
            assert conn.execute("select count(*) from batchmon_schema_migrations").fetchone() == (
                len(available_migrations()),
            )
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_uri_before_start_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="call start"):
        EmbeddedPostgres(tmp_path).uri()
