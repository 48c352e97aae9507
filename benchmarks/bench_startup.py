"""Desktop launch time and idle CPU, measured on real processes.

1. Launch: start ``python -m batchmon.ui.app --quit-after-show`` with an existing
   embedded database (a first launch creates it and is not counted) and read the
   "window shown after N s" line: the time from interpreter start of main() to the
   window being shown, plus the wall time of the whole process start. Target <= 1.5 s.
2. Idle CPU: run the desktop against that embedded database and an empty simulator
   (nothing pending, so polling stops) and read the process's CPU time over a quiet
   window from /proc. Target: about zero.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_startup.py``
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from batchmon.sim import ManualClock, Simulator, create_app

PYTHON = sys.executable
IDLE_SECONDS = 20.0
SETTLE_SECONDS = 10.0


def _serve_empty_simulator() -> tuple[str, uvicorn.Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(Simulator(ManualClock())), log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1", server


def _env(data_dir: Path, base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BATCHMON_DATA_DIR=str(data_dir),
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=base_url,
        QT_QPA_PLATFORM=env.get("QT_QPA_PLATFORM", "offscreen"),
    )
    env.pop("BATCHMON_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    return env


def launch_once(env: dict[str, str]) -> tuple[float, float]:
    """(seconds main() took to show the window, wall seconds from spawn to that line)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-m", "batchmon.ui.app", "--quit-after-show"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    shown = None
    wall = None
    for line in proc.stdout:
        match = re.search(r"window shown after ([0-9.]+) s", line)
        if match:
            wall = time.perf_counter() - started
            shown = float(match.group(1))
    proc.wait(timeout=60)
    if shown is None or wall is None:
        raise RuntimeError("the app did not report showing its window")
    return shown, wall


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def idle_cpu(env: dict[str, str]) -> float:
    """Share of one core used while the desktop sits idle (nothing pending)."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "batchmon.ui.app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(SETTLE_SECONDS)  # a benchmark measuring wall time, not a test
        before = _cpu_seconds(proc.pid)
        time.sleep(IDLE_SECONDS)
        after = _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return (after - before) / IDLE_SECONDS


def main() -> int:
    base_url, server = _serve_empty_simulator()
    with tempfile.TemporaryDirectory(prefix="batchmon-bench-") as tmp:
        env = _env(Path(tmp), base_url)
        first, _ = launch_once(env)  # creates and migrates the embedded database
        print(f"first launch (creates the database): window after {first:.3f} s")
        runs = [launch_once(env) for _ in range(3)]
        for shown, wall in runs:
            print(f"launch: window shown {shown:.3f} s after main(); {wall:.3f} s after spawn")
        best_wall = min(wall for _, wall in runs)
        print(f"best spawn-to-window: {best_wall:.3f} s (target <= 1.5 s)")
        cpu = idle_cpu(env)
        print(
            f"idle CPU over {IDLE_SECONDS:.0f} s with nothing pending: {cpu * 100:.2f}% of a core"
        )
    server.should_exit = True
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
