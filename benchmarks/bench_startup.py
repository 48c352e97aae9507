"""Desktop launch time and idle CPU, measured on real processes, with baselines.

1. Launch. ``python -m batchmon --quit-after-show`` against an embedded database that
   already exists (a first launch creates it and is reported apart) and an empty
   simulator. Each launch prints "window shown after N s" (from the start of ``main()``)
   and "connected after N s" (store opened, rows loaded, push and polling started); the
   benchmark adds the wall time from spawning the process to each line. Baselines in the
   same run: ``python -c "import PySide6.QtWidgets"`` and a bare QApplication +
   QMainWindow shown and painted. Target: window shown <= 1.5 s after launch.
2. CPU. The desktop runs for ``--seconds`` and the process's CPU time is read from
   /proc over that window, twice: with nothing pending (polling stops itself) and with
   five batches pending in a simulator whose clock never moves (polling every 2 s).
   Target: about zero CPU when nothing is pending.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_startup.py``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import uvicorn

from batchmon.engine.submit import submit_assets
from batchmon.openai_batches import BatchClient
from batchmon.sim import ManualClock, Simulator, create_app
from batchmon.store.embedded import EmbeddedPostgres
from batchmon.store.postgres import PostgresStore

PYTHON = sys.executable
SIM_KEY = "sk-bench"
BARE_WINDOW = """
import time; t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([]); w = QMainWindow(); w.resize(1280, 760); w.show(); w.repaint()
print(f"window shown after {time.perf_counter() - t0:.3f} s", flush=True)
"""


def _serve_simulator(simulator: Simulator) -> tuple[str, uvicorn.Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(simulator), log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # a benchmark waiting for its helper thread, not a test
    return f"http://127.0.0.1:{port}/v1", server


def _env(data_dir: Path, base_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "SUPABASE_", "BATCHMON_", "DATABASE_URL"))
    }
    env.update(
        BATCHMON_DATA_DIR=str(data_dir),
        XDG_CONFIG_HOME=str(data_dir / "config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        OPENAI_API_KEY=SIM_KEY,
        OPENAI_BASE_URL=base_url,
        QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return env


def _timed_lines(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd``; for each "<what> after N s" line: wall seconds since spawn."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    seen: dict[str, float] = {}
    for line in proc.stdout:
        match = re.search(r"(window shown|connected) after ([0-9.]+) s", line)
        if match:
            seen[match.group(1)] = time.perf_counter() - started
            seen[match.group(1) + " (in main)"] = float(match.group(2))
    code = proc.wait(timeout=120)
    if code != 0 or "window shown" not in seen:
        raise RuntimeError(f"{' '.join(cmd)} exited {code} without showing its window")
    return seen


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(env: dict[str, str], seconds: float, settle: float) -> float:
    """Share of one core the running desktop uses over ``seconds`` once connected."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "batchmon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr

    def read() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while "batchmon is running" not in lines.get(timeout=deadline - time.monotonic()):
            pass
        time.sleep(settle)  # let start-up work (first pass, notifier probe) finish
        before = _cpu_seconds(proc.pid)
        time.sleep(seconds)
        after = _cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return (after - before) / seconds


async def _submit_pending(data_dir: Path, base_url: str, batches: int) -> None:
    """Put ``batches`` batches (4 assets each) in the desktop's database, all pending."""
    embedded = EmbeddedPostgres(data_dir / "postgres")
    url = await asyncio.to_thread(embedded.start)
    store = await PostgresStore.open(url)
    client = BatchClient(api_key=SIM_KEY, base_url=base_url)
    try:
        for b in range(batches):
            ids = [str(uuid.uuid4()) for _ in range(4)]
            with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
                cur.executemany(
                    "insert into public.assets (id, image_url) values (%s, %s)",
                    [(i, f"https://img.example.test/bench/{b}/{i}.jpg") for i in ids],
                )
            await submit_assets(client, store, await store.assets_by_ids(ids))
    finally:
        await client.aclose()
        await store.close()
        await asyncio.to_thread(embedded.stop)


def _fmt(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=5, help="timed launches (default 5)")
    parser.add_argument("--seconds", type=float, default=20.0, help="CPU window (default 20)")
    parser.add_argument("--settle", type=float, default=5.0, help="wait before the CPU window")
    args = parser.parse_args(argv)

    simulator = Simulator(ManualClock(), api_key=SIM_KEY)  # its clock never moves
    base_url, server = _serve_simulator(simulator)
    data_dir = Path(tempfile.mkdtemp(prefix="batchmon-bench-"))
    data_dir.chmod(0o755)  # the embedded server may run as its own user
    env = _env(data_dir, base_url)
    app_cmd = [PYTHON, "-m", "batchmon", "--quit-after-show"]
    try:
        print(f"python {sys.version.split()[0]}, QT_QPA_PLATFORM={env['QT_QPA_PLATFORM']}")
        imports = [_wall([PYTHON, "-c", "import PySide6.QtWidgets"]) for _ in range(args.launches)]
        print(f"baseline  python -c 'import PySide6.QtWidgets':  {_fmt(imports)}")
        bare = [_timed_lines([PYTHON, "-c", BARE_WINDOW])["window shown"] for _ in range(3)]
        print(f"baseline  bare QApplication + QMainWindow shown: {_fmt(bare)}")
        first = _timed_lines(app_cmd, env)
        print(
            f"batchmon  first launch (creates the database):  window {first['window shown']:.3f}"
            f" s, connected {first.get('connected', float('nan')):.3f} s"
        )
        runs = [_timed_lines(app_cmd, env) for _ in range(args.launches)]
        shown = [r["window shown"] for r in runs]
        connected = [r["connected"] for r in runs]
        in_main = [r["window shown (in main)"] for r in runs]
        print(f"batchmon  spawn -> window shown (existing db):   {_fmt(shown)}  target <= 1.5 s")
        print(f"batchmon  main() -> window shown:                {_fmt(in_main)}")
        print(f"batchmon  spawn -> connected (db up, rows in):   {_fmt(connected)}")

        idle = cpu_share(env, args.seconds, args.settle)
        asyncio.run(_submit_pending(data_dir, base_url, 5))
        polling = cpu_share(env, args.seconds, args.settle)
        print(f"CPU over {args.seconds:g} s, share of one core:")
        print(f"  nothing pending (polling stopped):   {idle * 100:6.2f} %")
        print(f"  5 batches pending (polling every 2 s): {polling * 100:6.2f} %")
    finally:
        server.should_exit = True
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
