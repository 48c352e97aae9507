"""The environment a batchmon process runs in under test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fixtures.sim import LiveSim


def cli_env(tmp_path: Path, live_sim: LiveSim | None = None) -> dict[str, str]:
    """Environment for a batchmon process: no user config, no keyring, the sim's key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "BATCHMON_", "SUPABASE_")) and k != "DATABASE_URL"
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    if live_sim is not None:
        env["OPENAI_API_KEY"] = live_sim.api_key
        env["OPENAI_BASE_URL"] = live_sim.base_url
    return env


async def spawn_batchmon(*argv: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``python -m batchmon *argv`` as a child process, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batchmon",
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
