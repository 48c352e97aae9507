"""Creating, finding and cancelling batches, and who owns the HTTP client."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette

from batchmon.openai_batches import ApiServerError, BatchClient
from batchmon.sim import FaultConfig, Simulator
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY, LiveSim
from tests.helpers.clients import sim_batch_client
from tests.helpers.requests import ENDPOINT, input_jsonl, make_batches


async def test_create_retrieve_and_cancel(simulator: Simulator, sim_client: BatchClient) -> None:
    uploaded = await sim_client.upload_jsonl(input_jsonl(3))
    created = await sim_client.create_batch(
        input_file_id=uploaded.id, endpoint=ENDPOINT, metadata={"retry_token": "t-1"}
    )
    assert created.status == "validating"
    assert created.metadata == {"retry_token": "t-1"}
    assert created.endpoint == ENDPOINT and created.completion_window == "24h"

    simulator.advance(10)
    assert (await sim_client.retrieve(created.id)).status == "in_progress"

    cancelling = await sim_client.cancel(created.id)
    assert cancelling.status == "cancelling"
    simulator.advance(60)
    assert (await sim_client.retrieve(created.id)).status == "cancelled"


async def test_find_batch_by_metadata_returns_the_newest_match(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    (older,) = make_batches(simulator, 1, metadata={"retry_token": "t-9"})
    make_batches(simulator, 150, seconds_apart=1)
    (newer,) = make_batches(simulator, 1, metadata={"retry_token": "t-9"}, seconds_apart=1)

    found = await sim_client.find_batch_by_metadata("retry_token", "t-9")
    assert found is not None and found.id == newer
    assert await sim_client.find_batch_by_metadata("retry_token", "t-0") is None
    assert older != newer


async def test_find_batch_by_metadata_can_insist_on_its_own_upload(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    """Two processes retrying one batch share a token; each must find its own batch."""
    (mine,) = make_batches(simulator, 1, metadata={"retry_token": "t-7"})
    (theirs,) = make_batches(simulator, 1, metadata={"retry_token": "t-7"}, seconds_apart=1)
    my_file = simulator.get_batch(mine)["input_file_id"]

    newest = await sim_client.find_batch_by_metadata("retry_token", "t-7")
    assert newest is not None and newest.id == theirs
    own = await sim_client.find_batch_by_metadata("retry_token", "t-7", input_file_id=my_file)
    assert own is not None and own.id == mine
    none = await sim_client.find_batch_by_metadata("retry_token", "t-7", input_file_id="file-x")
    assert none is None


async def test_find_batch_by_metadata_stops_paging_at_created_after(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    make_batches(simulator, 1, metadata={"retry_token": "t-9"})
    make_batches(simulator, 250, seconds_apart=1)
    cutoff = int(simulator.now()) - 20

    before = sim_client.requests_made
    found = await sim_client.find_batch_by_metadata("retry_token", "t-9", created_after=cutoff)
    assert found is None
    assert sim_client.requests_made - before == 1  # the first page already reached the cutoff


async def test_create_is_retried_after_a_rate_limit(
    simulator: Simulator, sim_app: Starlette
) -> None:
    async def heal(response: httpx2.Response) -> None:
        if response.status_code == 429:
            simulator.faults.configure(FaultConfig())

    file_id = simulator.upload_file(input_jsonl(1), "in.jsonl", "batch")["id"]
    simulator.faults.configure(
        FaultConfig(rate_limit_rate=1.0, retry_after=0.01, match=r"^POST /v1/batches$")
    )
    async with (
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=sim_app),
            base_url=ASGI_BASE_URL,
            event_hooks={"response": [heal]},
        ) as http,
        sim_batch_client(http) as c,
    ):
        batch = await c.create_batch(input_file_id=file_id, endpoint=ENDPOINT)
        assert c.requests_made == 2

    assert [b["id"] for b in simulator.list_batches()["data"]] == [batch.id]


async def test_create_is_not_blindly_retried_after_a_server_error(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    # The server may have created the batch before failing: a blind retry could make two.
    file_id = simulator.upload_file(input_jsonl(1), "in.jsonl", "batch")["id"]
    simulator.faults.configure(FaultConfig(server_error_rate=1.0, match=r"^POST /v1/batches$"))
    client = sim_batch_client(asgi_http_client, max_retries=2)

    with pytest.raises(ApiServerError):
        await client.create_batch(input_file_id=file_id, endpoint=ENDPOINT)

    assert client.requests_made == 1


async def test_an_injected_http_client_stays_the_callers(
    simulator: Simulator, asgi_http_client: httpx2.AsyncClient
) -> None:
    (batch_id,) = make_batches(simulator, 1)
    client = sim_batch_client(asgi_http_client)
    await client.retrieve(batch_id)
    await client.aclose()

    assert not asgi_http_client.is_closed
    response = await asgi_http_client.get(
        f"/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {SIM_API_KEY}"}
    )
    assert response.status_code == 200
    assert client.requests_made == 1  # the caller's own request is no longer counted


async def test_an_own_http_client_is_closed_with_the_batch_client(live_sim: LiveSim) -> None:
    (batch_id,) = make_batches(live_sim.simulator, 1)
    client = BatchClient(api_key=live_sim.api_key, base_url=live_sim.base_url)
    assert (await client.retrieve(batch_id)).id == batch_id
    assert client.requests_made == 1
    assert client.reset_request_count() == 1 and client.requests_made == 0

    await client.aclose()

    with pytest.raises(RuntimeError):
        await client.retrieve(batch_id)
