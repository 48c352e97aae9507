"""Error messages that read cleanly and blame the right thing (M2)."""

from __future__ import annotations

import httpx2
import pytest

from batchmon.openai_batches import (
    BatchAlreadyFinished,
    BatchClient,
    BatchNotFound,
    EndpointNotFound,
)
from batchmon.sim import Simulator
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY, LiveSim
from tests.helpers.requests import make_batches


async def test_cancelling_a_finished_batch_says_it_already_finished(
    simulator: Simulator, sim_client: BatchClient
) -> None:
    (batch_id,) = make_batches(simulator, 1, metadata={"sim_duration": "1"})
    simulator.advance(3600)

    with pytest.raises(BatchAlreadyFinished) as caught:
        await sim_client.cancel(batch_id)

    assert caught.value.status_code == 409
    assert caught.value.hint == "The batch already finished, so there is nothing left to cancel."
    assert "fix the input file" not in str(caught.value)


async def test_a_base_url_without_v1_is_blamed_not_the_batch(live_sim: LiveSim) -> None:
    (batch_id,) = make_batches(live_sim.simulator, 1)
    async with BatchClient(
        api_key=live_sim.api_key, base_url=live_sim.root_url, max_retries=0
    ) as client:
        with pytest.raises(EndpointNotFound) as caught:
            await client.retrieve(batch_id)

    assert not isinstance(caught.value, BatchNotFound)
    assert "should end in /v1" in caught.value.hint


async def test_a_missing_batch_message_has_one_closing_period(
    asgi_http_client: httpx2.AsyncClient,
) -> None:
    client = BatchClient(
        api_key=SIM_API_KEY,
        base_url=f"{ASGI_BASE_URL}/v1",
        http_client=asgi_http_client,
        max_retries=0,
    )
    with pytest.raises(BatchNotFound) as caught:
        await client.retrieve("batch_x")

    shown = f"{caught.value.message}. {caught.value.hint}"  # as the CLI prints it
    assert "batch_x" in shown and ".." not in shown and ". (" not in str(caught.value)
