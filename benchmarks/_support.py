"""Shared scaffolding for the benchmarks: an embedded Postgres, a simulator process.

The simulator runs in its own process so the figures (memory above all) measure
batchmon alone, and every byte crosses a real loopback socket as it would from OpenAI.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from batchmon.sim.lifecycle import batch_object
from batchmon.store.embedded import EmbeddedPostgres

SIM_KEY = "sk-bench"


def _status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> float:
    """Start a new peak-RSS window (Linux: clear_refs 5); returns the current RSS in MB."""
    gc.collect()
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    current = _status_kib("VmRSS")
    return (current if current is not None else 0.0) / 1024


def peak_rss_mb() -> float:
    """Peak resident set size since the last reset, in MB."""
    peak = _status_kib("VmHWM")
    if peak is None:
        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / 1024


def load_note() -> str:
    """The machine's load while measuring: figures from a busy host read low."""
    one, five, _ = os.getloadavg()
    return f"host: {os.cpu_count()} CPU(s), load average {one:.1f} (1 min), {five:.1f} (5 min)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def embedded_database() -> Iterator[str]:
    """A fresh, migrated embedded PostgreSQL in a temp dir; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="batchmon-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", database="bench")
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


@contextlib.contextmanager
def simulator_process(time_scale: float = 1.0) -> Iterator[str]:
    """``batchmon sim`` on a free loopback port; yields the API base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchmon",
            "sim",
            "--port",
            str(port),
            "--time-scale",
            str(time_scale),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "BATCHMON_SIM_API_KEY": SIM_KEY},
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.05)
        yield f"{root}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def post_sim(base_url: str, path: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` to the simulator's control API (``/_sim/...``)."""
    root = base_url.removesuffix("/v1")
    request = urllib.request.Request(
        f"{root}{path}",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {SIM_KEY}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def advance_sim(base_url: str, seconds: float) -> None:
    post_sim(base_url, "/_sim/clock/advance", {"seconds": seconds})


def insert_assets(url: str, count: int, *, batch_id: str | None = None) -> list[str]:
    """``count`` assets (pending under ``batch_id`` if given) via COPY; returns ids."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC)
    status = "pending" if batch_id else None
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy(
            "copy public.assets (id, image_url, auto_tag_status, openai_batch_id, created_at) "
            "from stdin"
        ) as copy:
            for n, asset_id in enumerate(ids):
                copy.write_row(
                    (
                        asset_id,
                        f"https://img.example.test/photos/{n}-lake.jpg",
                        status,
                        batch_id,
                        now,
                    )
                )
        cur.execute("analyze public.assets")
    return ids


def counts(url: str, query: LiteralString, params: Sequence[object] = ()) -> tuple[int, ...]:
    """The one row of a ``count(*)`` query: how a benchmark checks what a run left behind."""
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return tuple(int(n) for n in row)


def batch_json(batch_id: str, status: str, **extra: object) -> dict[str, object]:
    created = int(time.time()) - 3600
    fields: dict[str, object] = {"expires_at": created + 86_400, "metadata": {}, **extra}
    return batch_object(batch_id, status, created_at=created, **fields)
