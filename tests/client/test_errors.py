"""Every failure reaches the caller as a typed error with a hint a person can act on."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette

from batchmon.openai_batches import (
    ApiServerError,
    ApiUnreachable,
    AuthenticationFailed,
    BadRequest,
    BatchApiError,
    BatchClient,
    BatchNotFound,
    RateLimited,
)
from batchmon.sim import FaultConfig, Simulator
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY, LiveSim
from tests.helpers.clients import sim_batch_client
from tests.helpers.requests import ENDPOINT, make_batches

WRONG_KEY = "sk-wrong-0123456789abcdef"


def asgi_client(
    http: httpx2.AsyncClient, *, api_key: str = SIM_API_KEY, max_retries: int = 2
) -> BatchClient:
    return sim_batch_client(http, api_key=api_key, max_retries=max_retries)


@pytest.fixture
async def healing_http(
    sim_app: Starlette, simulator: Simulator
) -> AsyncIterator[httpx2.AsyncClient]:
    """An in-process client whose first fault is the last: the server heals after one error."""

    async def heal(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            simulator.faults.configure(FaultConfig())

    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sim_app),
        base_url=ASGI_BASE_URL,
        event_hooks={"response": [heal]},
    ) as http:
        yield http


async def test_wrong_key_is_authentication_failed(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    (batch_id,) = make_batches(simulator, 1)
    client = asgi_client(asgi_http_client, api_key=WRONG_KEY)

    with pytest.raises(AuthenticationFailed) as caught:
        await client.retrieve(batch_id)

    err = caught.value
    assert err.status_code == 401
    assert "API key" in err.hint
    assert WRONG_KEY not in str(err) and WRONG_KEY not in err.hint
    assert client.requests_made == 1  # a rejected key is not retried


def test_an_empty_key_is_refused_before_any_request() -> None:
    with pytest.raises(AuthenticationFailed, match="No OpenAI API key"):
        BatchClient(api_key="  ")


async def test_unknown_batch_is_not_found(sim_client: BatchClient) -> None:
    with pytest.raises(BatchNotFound) as caught:
        await sim_client.retrieve("batch_nope")
    assert caught.value.status_code == 404
    assert "batch_nope" in str(caught.value)
    assert "check the id" in caught.value.hint


def rate_limited_batch(simulator: Simulator) -> str:
    """A batch whose every request now answers 429 with ``Retry-After: 0.01``."""
    (batch_id,) = make_batches(simulator, 1)
    simulator.faults.configure(FaultConfig(rate_limit_rate=1.0, retry_after=0.01))
    return batch_id


async def test_rate_limit_is_retried_by_the_sdk_then_raised_with_retry_after(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    batch_id = rate_limited_batch(simulator)
    client = asgi_client(asgi_http_client, max_retries=2)
    served_before = simulator.requests_served

    with pytest.raises(RateLimited) as caught:
        await client.retrieve(batch_id)

    assert caught.value.retry_after == pytest.approx(0.01)
    assert "wait 0.01 s" in caught.value.hint
    # the first try and both SDK retries reached the server, and all three were counted
    assert client.requests_made == 3 == simulator.requests_served - served_before


async def test_one_rate_limit_then_success_counts_both_requests(
    simulator: Simulator, healing_http: httpx2.AsyncClient
) -> None:
    batch_id = rate_limited_batch(simulator)
    client = asgi_client(healing_http, max_retries=2)

    batch = await client.retrieve(batch_id)

    assert batch.id == batch_id
    assert client.requests_made == 2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_server_errors_are_api_server_error(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient, seed: int
) -> None:
    simulator.faults.configure(FaultConfig(seed=seed, server_error_rate=1.0))
    client = asgi_client(asgi_http_client, max_retries=0)

    with pytest.raises(ApiServerError) as caught:
        await client.statuses(["batch_a"])

    assert caught.value.status_code in (500, 503)
    assert simulator.faults.counts["server_error"] == 1


async def test_refused_requests_are_bad_request(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    client = asgi_client(asgi_http_client, max_retries=0)

    # A missing input file is accepted and fails the batch later, as on OpenAI; a file of
    # the wrong purpose is refused at once.
    notes = simulator.upload_file(b"{}", "notes.jsonl", "user_data")["id"]
    with pytest.raises(BadRequest) as invalid:
        await client.create_batch(input_file_id=notes, endpoint=ENDPOINT)
    assert invalid.value.status_code == 400
    assert "input_file_id" in str(invalid.value)

    (batch_id,) = make_batches(simulator, 1, metadata={"sim_duration": "1"})
    simulator.advance(3600)  # completed
    with pytest.raises(BadRequest) as conflict:
        await client.cancel(batch_id)
    assert conflict.value.status_code == 409


async def test_dropped_connection_is_unreachable_after_sdk_retries(live_sim: LiveSim) -> None:
    (batch_id,) = make_batches(live_sim.simulator, 1)
    live_sim.simulator.faults.configure(FaultConfig(drop_rate=1.0))
    served_before = live_sim.simulator.requests_served
    async with BatchClient(
        api_key=live_sim.api_key, base_url=live_sim.base_url, max_retries=1
    ) as client:
        with pytest.raises(ApiUnreachable) as caught:
            await client.retrieve(batch_id)

        assert "network" in caught.value.hint
        assert client.requests_made == 2 == live_sim.simulator.requests_served - served_before


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with BatchClient(
        api_key="sk-any", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    ) as client:
        with pytest.raises(ApiUnreachable, match="could not reach the API"):
            await client.statuses(["batch_a"])
        assert client.requests_made == 1


async def test_a_slow_server_times_out_as_unreachable(live_sim: LiveSim) -> None:
    live_sim.simulator.faults.configure(FaultConfig(latency_rate=1.0, latency_seconds=0.5))
    async with BatchClient(
        api_key=live_sim.api_key, base_url=live_sim.base_url, max_retries=0, timeout=0.05
    ) as client:
        with pytest.raises(ApiUnreachable, match="timed out"):
            await client.retrieve("batch_a")


async def test_the_api_key_never_reaches_logs_or_errors(
    simulator: Simulator,
    asgi_http_client: httpx2.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "batchmon"):  # other tests may have quietened these
        caplog.set_level(logging.DEBUG, logger=name)
    (batch_id,) = make_batches(simulator, 1)
    good = asgi_client(asgi_http_client)
    bad = asgi_client(asgi_http_client, api_key=WRONG_KEY)
    simulator.faults.configure(FaultConfig(rate_limit_rate=0.5, retry_after=0.01, seed=3))

    texts = [repr(good), repr(bad)]
    for client in (good, bad):
        for call in (client.retrieve(batch_id), client.statuses([batch_id, "batch_x"])):
            try:
                await call
            except BatchApiError as err:
                texts.append(str(err))

    assert caplog.records  # the SDK did log at debug level
    for secret in (SIM_API_KEY, WRONG_KEY):
        assert secret not in caplog.text
        assert not any(secret in text for text in texts)
