"""The real process: it starts, quits on request and leaves no database running behind.

These run ``python -m batchmon`` as a person (or systemd, or the bundle check) would,
offscreen, each with its own data and config dirs. Progress is read from the process's
own output lines, never guessed with sleeps.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.postgres import scratch_server_dir
from tests.ui.processes import alive, assert_all_end, processes_using, server_processes

DEADLINE = 90.0
#: Every way out must end the app, its database and its children within this.
QUIT_SECONDS = 5.0


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data dir for the module: the first launch creates the embedded database."""
    with scratch_server_dir() as path:
        yield path


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


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "demo" / "postgres" / "pgdata"


def test_quit_after_show_exits_cleanly(data_dir: Path) -> None:
    """The benchmark switch: window shown, connected, and a clean exit 0."""
    app = Running(["--demo", "--quit-after-show"], _env(data_dir))
    app.wait_for_line("window shown after")
    app.wait_for_line("connected after")
    assert app.finish() == 0, app.output
    assert "Traceback" not in app.output and "Fatal Python error" not in app.output
    assert not (_pgdata(data_dir) / "postmaster.pid").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_shuts_down_in_order(data_dir: Path, sig: signal.Signals) -> None:
    """SIGTERM (logout, systemctl, kill) or Ctrl+C: exit 0 within 5 s, database stopped.

    Runs after the test above, so this launch reuses an existing database.
    """
    app = Running(["--demo", "--demo-day-seconds", "600"], _env(data_dir))
    app.wait_for_line("batchmon is running (demo)")
    postgres = server_processes(_pgdata(data_dir))
    children = psutil.Process(app.proc.pid).children(recursive=True)
    assert alive(postgres)
    sent = time.monotonic()
    app.proc.send_signal(sig)
    assert app.finish(timeout=QUIT_SECONDS) == 0, app.output
    assert_all_end(postgres, QUIT_SECONDS - (time.monotonic() - sent), "the demo's PostgreSQL")
    assert_all_end(children, 1.0, "the app's child processes")
    assert f"shutting down ({sig.name})" in app.output
    assert "Traceback" not in app.output and "Fatal Python error" not in app.output
    assert not (_pgdata(data_dir) / "postmaster.pid").exists()


def test_sigterm_while_the_settings_error_is_shown(data_dir: Path) -> None:
    """A broken settings file opens a message box; SIGTERM still ends the app at once."""
    config = data_dir / "broken-config"
    (config / "batchmon").mkdir(parents=True, exist_ok=True)
    (config / "batchmon" / "config.toml").write_text("poll_interval = [not toml\n")
    app = Running([], {**_env(data_dir), "XDG_CONFIG_HOME": str(config)})
    app.wait_for_line("batchmon: error:")
    sent = time.monotonic()
    app.proc.send_signal(signal.SIGTERM)
    assert app.finish(timeout=QUIT_SECONDS) == 3, app.output
    assert time.monotonic() - sent < QUIT_SECONDS
    assert "shutting down (SIGTERM)" in app.output


def test_self_test_passes_on_a_fresh_machine(data_dir: Path) -> None:
    """The self-test stops the server it started.

    Its temporary directory is under a TMPDIR of this test's own, so only this run's
    server can match: other runs on the machine (another checkout's tests) are not
    mistaken for it. The server's processes are recorded while it runs, and awaited
    after the app exits: ``pg_ctl stop`` returns once the pid file is gone, a moment
    before the postmaster itself has finished exiting.
    """
    tmp = data_dir / "self-test-tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o755)  # the server may run as its own user when the tests run as root
    app = Running(["--self-test"], {**_env(data_dir / "self-test-home"), "TMPDIR": str(tmp)})
    app.wait_for_line("self-test: connecting the window to the database: ok")
    servers = processes_using(tmp)
    assert servers, "no server of this self-test found while it runs"
    postgres = [p for q in servers for p in (q, *q.children(recursive=True))]
    app.wait_for_line("self-test: running one sync pass: ok")
    assert app.finish() == 0, app.output
    assert "batchmon self-test passed" in app.output
    assert_all_end(postgres, QUIT_SECONDS, "the self-test left its PostgreSQL running")
    assert not processes_using(tmp), "the self-test left its PostgreSQL running"
