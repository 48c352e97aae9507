"""The real process: it starts, quits on request and leaves no database running behind.

These run ``python -m batchmon`` as a person (or systemd, or the bundle check) would,
offscreen, each with its own data and config dirs. Progress is read from the process's
own output lines, never guessed with sleeps.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.postgres import server_dir

DEADLINE = 90.0


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data dir for the module: the first launch creates the embedded database."""
    path = server_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "SUPABASE_", "BATCHMON_", "DATABASE_URL"))
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        BATCHMON_DATA_DIR=str(data_dir),
        XDG_CONFIG_HOME=str(data_dir / "config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONFAULTHANDLER="1",
        **extra,
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return env


class Running:
    """A started ``batchmon`` whose output lines arrive on a queue as they are written."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "batchmon", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, needle: str, timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"exited before {needle!r}:\n{self.output}")
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no {needle!r} within {timeout:g} s:\n{self.output}")

    def finish(self, timeout: float = DEADLINE) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _postmaster_pid(data_dir: Path) -> int:
    pid_file = data_dir / "demo" / "postgres" / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_quit_after_show_exits_cleanly(data_dir: Path) -> None:
    """The benchmark switch: window shown, connected, and a clean exit 0."""
    app = Running(["--demo", "--quit-after-show"], _env(data_dir))
    app.wait_for_line("window shown after")
    app.wait_for_line("connected after")
    assert app.finish() == 0, app.output
    assert "Traceback" not in app.output and "Fatal Python error" not in app.output
    assert not (data_dir / "demo" / "postgres" / "pgdata" / "postmaster.pid").exists()


def test_sigterm_shuts_down_in_order(data_dir: Path) -> None:
    """SIGTERM (logout, systemctl, kill): exit 0, and the embedded server stopped.

    Runs after the test above, so this launch reuses an existing database.
    """
    sig = signal.SIGTERM
    app = Running(["--demo", "--demo-day-seconds", "600"], _env(data_dir))
    app.wait_for_line("batchmon is running (demo)")
    postmaster = _postmaster_pid(data_dir)
    assert _alive(postmaster)
    app.proc.send_signal(sig)
    assert app.finish() == 0, app.output
    assert f"shutting down ({sig.name})" in app.output
    assert "Traceback" not in app.output and "Fatal Python error" not in app.output
    assert not _alive(postmaster), "the embedded PostgreSQL outlived the app"
    assert not (data_dir / "demo" / "postgres" / "pgdata" / "postmaster.pid").exists()


def test_self_test_passes_on_a_fresh_machine(data_dir: Path) -> None:
    app = Running(["--self-test"], _env(data_dir / "self-test-home"))
    app.wait_for_line("self-test: running one sync pass: ok")
    assert app.finish() == 0, app.output
    assert "batchmon self-test passed" in app.output
    leftovers = [p for p in psutil.process_iter(["name", "cmdline"]) if _self_test_server(p)]
    assert not leftovers, "the self-test left its PostgreSQL running"


def _self_test_server(proc: psutil.Process) -> bool:
    cmdline = " ".join(proc.info.get("cmdline") or [])
    return "postgres" in (proc.info.get("name") or "") and "batchmon-self-test-" in cmdline
