"""The one question the CLI asks Postgres directly: the pg_cron poller's recent runs.

It is not part of the store's SQL API (it reads pg_cron's own tables), so it needs a
direct Postgres connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from batchmon.store.protocol import StoreError

CRON_JOB_NAME = "poll-openai-batches"
"""The pg_cron job docs/supabase.md schedules; `runs` shows its recent runs."""


@dataclass(frozen=True, slots=True)
class CronRun:
    """One row of ``cron.job_run_details`` for the poller's job."""

    runid: int
    status: str
    start_time: datetime | None
    end_time: datetime | None
    return_message: str | None


def _connect(database_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        from batchmon.store.errors import connect_error

        raise connect_error(database_url, exc) from exc


def cron_runs(database_url: str, *, limit: int = 20) -> list[CronRun] | None:
    """Recent runs of the pg_cron job, or None where pg_cron is not installed."""
    try:
        with _connect(database_url) as conn:
            installed = conn.execute(
                b"select 1 from pg_catalog.pg_extension where extname = 'pg_cron'"
            ).fetchone()
            if not installed:
                return None
            rows = conn.execute(
                b"select d.runid, d.status, d.start_time, d.end_time, d.return_message "
                b"from cron.job_run_details d join cron.job j on j.jobid = d.jobid "
                b"where j.jobname = %s order by d.start_time desc nulls last limit %s",
                (CRON_JOB_NAME, limit),
            ).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"could not read pg_cron's job runs: {exc}") from exc
    return [CronRun(*row) for row in rows]
