"""Bad configuration gives one clear line and an exit code, never a traceback.

The real entry point runs as a subprocess, as a person would start it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env

PROCESS_TIMEOUT = 120.0


async def _run(*argv: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batchmon", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, err.decode(errors="replace")


def _clear(code: int, err: str, *words: str) -> None:
    assert code in (1, 2, 3), (code, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("batchmon: error:"), err
    for word in words:
        assert word.lower() in err.lower(), (word, err)


@pytest.mark.parametrize(
    "base_url",
    ["ht!tp://not a url", "127.0.0.1:8765/v1", "http://127.0.0.1:1/v1"],
    ids=["garbage", "no-scheme", "nothing-listening"],
)
async def test_a_bad_api_url_is_one_clear_line(
    base_url: str, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path)
    env["OPENAI_API_KEY"] = "sk-anything"
    code, err = await _run(
        "cancel", "batch_x", "--database-url", database_url, "--base-url", base_url, env=env
    )
    _clear(code, err)


async def test_a_wrong_api_key_says_so_and_exits_with_the_config_code(
    live_sim: LiveSim, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, live_sim)
    env["OPENAI_API_KEY"] = "sk-wrong-key-0000"
    code, err = await _run("cancel", "batch_x", "--database-url", database_url, env=env)
    _clear(code, err, "key")
    assert code == 3
    assert "sk-wrong-key-0000" not in err


@pytest.mark.parametrize(
    "url",
    ["postgresql://nobody@127.0.0.1:1/app", "this is not a database url", "postgresql://["],
    ids=["unreachable", "garbage", "unparseable"],
)
async def test_a_bad_database_url_is_one_clear_line(url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["OPENAI_API_KEY"] = "sk-anything"
    code, err = await _run("status", "--offline", "--database-url", url, env=env)
    _clear(code, err, "database")


async def test_a_malformed_setting_names_itself(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["BATCHMON_POLL_INTERVAL"] = "every now and then"
    code, err = await _run("status", "--offline", env=env)
    _clear(code, err, "poll_interval")
