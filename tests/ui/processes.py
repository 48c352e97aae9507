"""Which processes a desktop run started, and proof that they are gone after it quits.

The embedded PostgreSQL detaches from the app (``pg_ctl`` starts it as a daemon), so
"the app exited" says nothing about it: these helpers find the server by its data
directory and wait (bounded, on the processes themselves) until every one has ended.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil


def postmaster_pid(pgdata: Path) -> int:
    """The server's pid, from the first line of ``postmaster.pid`` in its data dir."""
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def server_processes(pgdata: Path) -> list[psutil.Process]:
    """The postmaster of ``pgdata`` and every process it started."""
    postmaster = psutil.Process(postmaster_pid(pgdata))
    return [postmaster, *postmaster.children(recursive=True)]


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running (a zombie has ended: only its entry remains)."""
    running = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            continue
    return running


def assert_all_end(processes: list[psutil.Process], within: float, what: str) -> None:
    """Fail unless every process in ``processes`` has ended within ``within`` seconds."""
    deadline = time.monotonic() + within
    _, still = psutil.wait_procs(alive(processes), timeout=max(0.0, deadline - time.monotonic()))
    left = alive(still)
    assert not left, f"{what}: {len(left)} process(es) still running: " + ", ".join(
        f"{p.pid} {' '.join(p.cmdline()[:2])}" for p in left
    )


def processes_using(path: Path) -> list[psutil.Process]:
    """Every live process whose command line names ``path`` (a data dir, a temp dir)."""
    needle = str(path)
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if needle in " ".join(proc.info.get("cmdline") or []):
            found.append(proc)
    return alive(found)
