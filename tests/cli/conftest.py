"""CLI test wiring: a clean environment pointing batchmon at the live simulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import Batchmon
from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Apply :func:`cli_env` (without a simulator) to this process for main(argv) tests."""
    env = cli_env(tmp_path)
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


@pytest.fixture
def sim_env(
    clean_env: dict[str, str], live_sim: LiveSim, monkeypatch: pytest.MonkeyPatch
) -> LiveSim:
    """:func:`clean_env` with the live simulator's key and address."""
    monkeypatch.setenv("OPENAI_API_KEY", live_sim.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", live_sim.base_url)
    return live_sim


@pytest.fixture
def batchmon(capsys: pytest.CaptureFixture[str], database_url: str) -> Batchmon:
    """The in-process ``batchmon`` command, pointed at this test's database."""
    return Batchmon(capsys, database_url)
