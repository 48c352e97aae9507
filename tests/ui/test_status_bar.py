"""The status bar reads the server-side poller's last run in words a person can act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from batchmon.store.protocol import PollRun
from batchmon.ui.status_bar import server_run_health

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _run(age_s: float, applied: int = 0, error: str | None = None) -> PollRun:
    at = NOW - timedelta(seconds=age_s)
    return PollRun(started_at=at, finished_at=at, checked=3, applied=applied, failed=0, error=error)


def test_server_poller_health_in_words() -> None:
    assert server_run_health(None, NOW) == (None, "Server poller: no runs recorded")
    assert server_run_health(_run(5, applied=2), NOW) == (
        True,
        "Server poller: ran 5s ago, applied 2",
    )
    # Nothing to do is healthy, and must not read like a failure to apply.
    assert server_run_health(_run(5), NOW) == (
        True,
        "Server poller: ran 5s ago, nothing new to apply",
    )
    assert server_run_health(_run(400), NOW)[0] is False
    assert server_run_health(_run(5, error="boom"), NOW) == (
        False,
        "Server poller: last run 5s ago failed",
    )
