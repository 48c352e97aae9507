"""Fixtures for the simulator tests: the real openai client, in-process and over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai
import pytest

from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY, LiveSim

from .helpers import sdk_client


@pytest.fixture
async def client(asgi_http_client: httpx2.AsyncClient) -> AsyncIterator[openai.AsyncOpenAI]:
    """openai.AsyncOpenAI talking to the simulator in-process, without SDK retries."""
    async with sdk_client(asgi_http_client, f"{ASGI_BASE_URL}/v1", SIM_API_KEY) as sdk:
        yield sdk


@pytest.fixture
async def live_client(live_sim: LiveSim) -> AsyncIterator[openai.AsyncOpenAI]:
    """openai.AsyncOpenAI talking to the simulator over a real loopback socket."""
    async with sdk_client(httpx2.AsyncClient(), live_sim.base_url, live_sim.api_key) as sdk:
        yield sdk
