"""With a key configured, only `Authorization: Bearer <key>` gets in."""

from __future__ import annotations

import httpx2
import openai
import pytest

from batchmon.sim import ManualClock, Simulator, create_app
from tests.fixtures.sim import LiveSim

from .helpers import sdk_client


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"Authorization": "Bearer sk-wrong"}, "invalid_api_key"),
        ({"Authorization": "sk-sim-test-key"}, "invalid_api_key"),
    ],
)
async def test_missing_or_wrong_key_is_401(
    asgi_http_client: httpx2.AsyncClient, headers: dict[str, str], code: str | None
) -> None:
    for path in ("/v1/batches", "/_sim/state"):
        response = await asgi_http_client.get(path, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == code
        assert "sk-wrong" not in error["message"]


async def test_sdk_with_a_wrong_key_gets_authentication_error(live_sim: LiveSim) -> None:
    async with sdk_client(httpx2.AsyncClient(), live_sim.base_url, "sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.batches.list()
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"


async def test_without_a_configured_key_any_key_works() -> None:
    app = create_app(Simulator(ManualClock()))
    async with (
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://s") as http,
        sdk_client(http, "http://s/v1", "anything") as client,
    ):
        page = await client.batches.list()
    assert page.data == []
