"""Server-wide fault injection: each fault looks to a client like the real thing."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest
from openai.types import Batch

from batchmon.sim import Fault, FaultConfig, SimulatedDisconnect, Simulator
from batchmon.sim.faults import FaultInjector
from tests.fixtures.sim import SIM_API_KEY, LiveSim

from .helpers import completed_batch, sdk_client, tagging_file, upload_and_create

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
    batch_id, output = completed_batch(sim, 300)
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


async def test_rate_limit_without_retry_after(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    """OpenAI does not always say how long to wait; the client must pick its own backoff."""
    simulator.faults.configure(FaultConfig(rate_limit_rate=1.0, retry_after=None))
    response = await asgi_http_client.get("/v1/batches", headers=AUTH)
    assert response.status_code == 429
    assert "retry-after" not in response.headers and "retry-after-ms" not in response.headers
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert FaultConfig.from_dict({"retry_after": None, "rate_limit_rate": 1}).retry_after is None


async def test_every_response_has_a_request_id(
    asgi_http_client: httpx2.AsyncClient, client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    seen = set()
    ok = await asgi_http_client.get("/v1/batches", headers=AUTH)
    missing = await asgi_http_client.get("/v1/batches/batch_nope", headers=AUTH)
    control = await asgi_http_client.get("/_sim/state", headers=AUTH)
    simulator.faults.configure(FaultConfig(rate_limit_rate=1.0))
    limited = await asgi_http_client.get("/v1/batches", headers=AUTH)
    for response in (ok, missing, control, limited):
        request_id = response.headers["x-request-id"]
        assert request_id.startswith("req_") and len(request_id) == 36
        seen.add(request_id)
    assert len(seen) == 4
    simulator.faults.configure(FaultConfig())
    page = await client.batches.with_raw_response.list()
    assert page.request_id is not None and page.request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError) as raised:
        await client.batches.retrieve("batch_nope")
    assert raised.value.request_id is not None


@pytest.mark.parametrize(
    ("setting", "content_type", "body"),
    [
        ("html_rate", "text/html; charset=utf-8", b"<!DOCTYPE html>"),
        ("broken_json_rate", "application/json", b'{"object": "list", "data": [{"id": "batch_'),
        ("wrong_shape_rate", "application/json", b'{"object": "list", "data": null'),
    ],
)
async def test_malformed_200s_on_api_calls(
    asgi_http_client: httpx2.AsyncClient,
    simulator: Simulator,
    setting: str,
    content_type: str,
    body: bytes,
) -> None:
    simulator.faults.configure(FaultConfig.from_dict({setting: 1.0}))
    response = await asgi_http_client.get("/v1/batches", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content.startswith(body)
    assert int(response.headers["content-length"]) == len(response.content)
    assert sum(simulator.faults.counts.values()) == 1


async def test_the_sdk_does_not_get_a_batch_from_malformed_200s(
    client: openai.AsyncOpenAI, simulator: Simulator
) -> None:
    """What a worker must survive: each kind reaches the caller as something else."""
    batch_id = upload_and_create(simulator, tagging_file(1))
    simulator.faults.configure(FaultConfig(wrong_shape_rate=1.0))
    retrieved = await client.batches.retrieve(batch_id)
    assert not isinstance(retrieved, Batch)  # the bare string "ok"
    simulator.faults.configure(FaultConfig(broken_json_rate=1.0))
    with pytest.raises((openai.APIResponseValidationError, ValueError)):
        await client.batches.retrieve(batch_id)
    simulator.faults.configure(FaultConfig(wrong_shape_rate=1.0))
    page = await client.batches.list()
    assert page.data is None


@pytest.mark.parametrize(
    ("setting", "lines", "framed"),
    [("empty_body_rate", 0, True), ("short_body_rate", None, True), ("cut_lines_rate", 5, False)],
)
async def test_malformed_200s_on_downloads(
    live_sim: LiveSim, setting: str, lines: int | None, framed: bool
) -> None:
    """Over a real socket: a complete 200 body that holds less than the file."""
    sim = live_sim.simulator
    _, output = completed_batch(sim, 10)
    whole = sim.file_content(output)
    sim.faults.configure(FaultConfig.from_dict({setting: 1.0}))
    async with httpx2.AsyncClient() as http:
        listed = await http.get(live_sim.base_url + "/batches", headers=AUTH)
        assert listed.status_code == 200 and listed.json()["data"]  # not a download
        response = await http.get(f"{live_sim.base_url}/files/{output}/content", headers=AUTH)
        missing = await http.get(f"{live_sim.base_url}/files/file-nope/content", headers=AUTH)
    assert response.status_code == 200
    assert ("content-length" in response.headers) is framed
    assert len(response.content) < len(whole) and whole.startswith(response.content)
    if lines is not None:
        assert response.content.count(b"\n") == lines
        assert response.content == b"" or response.content.endswith(b"\n")
    else:
        assert response.content and not response.content.endswith(b"\n")  # cut mid-line
    assert missing.status_code == 404  # refusals pass through unchanged
    assert sim.faults.counts[setting.removesuffix("_rate")] == 2


def test_malformed_rates_keep_the_seeded_stream_of_other_faults() -> None:
    """Adding no malformed rate leaves existing seeded runs exactly as they were."""
    plain = FaultInjector(FaultConfig(seed=5, rate_limit_rate=0.3))
    again = FaultInjector(FaultConfig(seed=5, rate_limit_rate=0.3, html_rate=0.0))
    first = [plain.decide("GET", "/v1/batches").error is None for _ in range(50)]
    second = [again.decide("GET", "/v1/batches").error is None for _ in range(50)]
    assert first == second
    with pytest.raises(ValueError):
        FaultConfig(html_rate=0.6, broken_json_rate=0.6)
