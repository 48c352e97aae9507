"""Server-wide fault injection: each fault looks to a client like the real thing."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest

from batchmon.sim import Fault, FaultConfig, SimulatedDisconnect, Simulator
from batchmon.sim.faults import FaultInjector
from tests.fixtures.sim import SIM_API_KEY, LiveSim

from .helpers import sdk_client, tagging_file, upload_and_create

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}


async def test_rate_limit_is_429_with_retry_after(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    simulator.faults.configure(FaultConfig(rate_limit_rate=1.0, retry_after=2.5))
    response = await asgi_http_client.get("/v1/batches", headers=AUTH)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "2500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert simulator.faults.counts[Fault.RATE_LIMITED] == 1


async def test_the_sdk_retries_through_rate_limits(live_sim: LiveSim) -> None:
    sim = live_sim.simulator
    sim.faults.configure(FaultConfig(seed=3, rate_limit_rate=0.5, retry_after=0.001))
    async with openai.AsyncOpenAI(
        api_key=live_sim.api_key, base_url=live_sim.base_url, max_retries=20
    ) as client:
        for _ in range(6):
            assert (await client.batches.list()).data == []
    assert sim.faults.counts[Fault.RATE_LIMITED] > 0


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_have_openai_bodies(
    client: openai.AsyncOpenAI, simulator: Simulator, status: int
) -> None:
    simulator.faults.configure(FaultConfig(server_error_rate=1.0))
    seen = set()
    for _ in range(12):
        with pytest.raises(openai.InternalServerError) as raised:
            await client.batches.list()
        seen.add(raised.value.status_code)
        assert raised.value.type == "server_error"
    assert status in seen


async def test_dropped_connection_over_loopback(live_sim: LiveSim) -> None:
    live_sim.simulator.faults.configure(FaultConfig(drop_rate=1.0))
    async with httpx2.AsyncClient() as http:
        with pytest.raises(httpx2.TransportError):
            await http.get(live_sim.base_url + "/batches", headers=AUTH)
        async with sdk_client(httpx2.AsyncClient(), live_sim.base_url, live_sim.api_key) as sdk:
            with pytest.raises(openai.APIConnectionError):
                await sdk.batches.list()
        live_sim.simulator.faults.configure(FaultConfig())
        assert (await http.get(live_sim.base_url + "/batches", headers=AUTH)).status_code == 200
    assert live_sim.simulator.faults.counts[Fault.DROPPED] == 2


async def test_dropped_connection_in_process(
    asgi_http_client: httpx2.AsyncClient, client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    simulator.faults.configure(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx2.RemoteProtocolError) as raised:
        await asgi_http_client.get("/v1/batches", headers=AUTH)
    assert isinstance(raised.value, SimulatedDisconnect)
    with pytest.raises(openai.APIConnectionError):
        await client.batches.list()


async def test_truncated_download_over_loopback(
    live_client: openai.AsyncOpenAI, live_sim: LiveSim
) -> None:
    sim = live_sim.simulator
    batch_id = upload_and_create(sim, tagging_file(300))
    sim.advance(3600)
    output = sim.batch(batch_id).output_file_id
    assert output is not None
    sim.faults.configure(FaultConfig(truncate_rate=1.0))
    assert (await live_client.batches.retrieve(batch_id)).status == "completed"  # not a download
    received = bytearray()
    with pytest.raises((httpx2.TransportError, openai.APIConnectionError)):
        async with live_client.files.with_streaming_response.content(output) as response:
            assert int(response.headers["content-length"]) == len(sim.file_content(output))
            async for chunk in response.iter_bytes():
                received += chunk
    assert 0 < len(received) < len(sim.file_content(output))
    assert sim.faults.counts[Fault.TRUNCATED] == 1


async def test_added_latency(client: openai.AsyncOpenAI, simulator: Simulator) -> None:
    simulator.faults.configure(FaultConfig(latency_rate=1.0, latency_seconds=0.2))
    started = time.monotonic()
    await client.batches.list()
    assert time.monotonic() - started >= 0.2
    assert simulator.faults.counts[Fault.LATENCY] == 1


async def test_match_limits_faults_to_some_calls(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    simulator.faults.configure(FaultConfig(server_error_rate=1.0, match=r"^POST /v1/batches$"))
    uploaded = await client.files.create(file=("in.jsonl", tagging_file(1)), purpose="batch")
    await client.batches.list()
    with pytest.raises(openai.InternalServerError):
        await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert simulator.list_batches()["data"] == []


async def test_faults_never_hit_the_control_routes(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    simulator.faults.configure(FaultConfig(server_error_rate=1.0))
    response = await asgi_http_client.get("/_sim/state", headers=AUTH)
    assert response.status_code == 200


def test_the_same_seed_injects_the_same_faults() -> None:
    config = FaultConfig(seed=7, rate_limit_rate=0.2, server_error_rate=0.2, drop_rate=0.1)

    def run() -> list[str]:
        injector = FaultInjector(config)
        out = []
        for _ in range(200):
            decision = injector.decide("GET", "/v1/batches")
            out.append(
                "drop"
                if decision.drop
                else str(decision.error.status_code if decision.error else 200)
            )
        return out

    first = run()
    assert first == run()
    assert 20 < first.count("429") < 60 and first.count("drop") > 5


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit_rate": 1.5},
        {"rate_limit_rate": 0.6, "server_error_rate": 0.6},
        {"latency_seconds": -1},
        {"match": "("},
    ],
)
def test_impossible_fault_settings_are_refused(bad: dict[str, float | str]) -> None:
    with pytest.raises(ValueError):
        FaultConfig.from_dict(bad)
