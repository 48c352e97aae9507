"""`python -m batchmon.sim` (and so `batchmon sim`) serves on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys

import httpx2
import pytest

from batchmon.sim import ScaledClock
from batchmon.sim.serve import add_arguments, build_simulator


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_bind_loopback_with_no_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHMON_SIM_API_KEY", raising=False)
    args = parse()
    assert args.host == "127.0.0.1"
    sim = build_simulator(args)
    assert sim.api_key is None
    assert not sim.faults.config.active
    assert isinstance(sim.clock, ScaledClock) and sim.clock.scale == 1.0


def test_options_reach_the_simulator() -> None:
    args = parse("--time-scale", "60", "--api-key", "k", "--rate-limit-rate", "0.2", "--seed", "9")
    sim = build_simulator(args)
    assert sim.api_key == "k"
    assert sim.faults.config.rate_limit_rate == 0.2 and sim.faults.config.seed == 9
    assert isinstance(sim.clock, ScaledClock) and sim.clock.scale == 60.0


def test_queue_timing_and_malformed_options_reach_the_simulator() -> None:
    args = parse(
        "--enqueued-token-limit",
        "gpt-4o-mini=2000000",
        "--cancelling-seconds",
        "600",
        "--no-retry-after",
        "--cut-lines-rate",
        "0.5",
    )
    sim = build_simulator(args)
    assert sim.queue.limit_for("gpt-4o-mini-2024-07-18") == 2_000_000
    assert sim.queue.limit_for("gpt-4o") is None
    assert sim.timing.cancelling == 600
    assert sim.faults.config.retry_after is None and sim.faults.config.cut_lines_rate == 0.5
    with pytest.raises(ValueError, match="MODEL=TOKENS"):
        build_simulator(parse("--enqueued-token-limit", "gpt-4o-mini"))


def test_scaled_clock_runs_fast_and_can_jump() -> None:
    clock = ScaledClock(3600, start=0)
    first = clock.now()
    assert clock.advance(100) >= first + 100
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_module_entry_point_serves_until_stopped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchmon.sim", "--port", str(port), "--api-key", "sk-x"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until uvicorn reports it is listening
            if "Uvicorn running on" in line or proc.poll() is not None:
                break
        assert f"http://127.0.0.1:{port}" in line
        response = httpx2.get(
            f"http://127.0.0.1:{port}/v1/batches", headers={"Authorization": "Bearer sk-x"}
        )
        assert response.status_code == 200
        assert response.json()["data"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
