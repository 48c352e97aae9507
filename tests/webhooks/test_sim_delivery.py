"""The simulator delivers batch events as OpenAI does: signed, shaped, retried, bounded."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx2
import openai
import pytest
from openai.types.webhooks import (
    BatchCancelledWebhookEvent,
    BatchCompletedWebhookEvent,
    BatchExpiredWebhookEvent,
    BatchFailedWebhookEvent,
)
from openapi_schema_validator import OAS31Validator, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchmon.sim import ManualClock, Simulator, WebhookEndpoint, create_app
from batchmon.sim.serve import add_arguments, build_simulator
from batchmon.sim.webhooks import DEFAULT_BACKOFF, WebhookConfigError, new_secret
from tests.fixtures.sim import SIM_API_KEY
from tests.helpers.webhooks import LoopbackPort
from tests.sim.helpers import schema_for, spec, tagging_file, upload_and_create

URL = "http://endpoint.test/hook"
BATCH_EVENT_TYPES = (
    BatchCompletedWebhookEvent,
    BatchFailedWebhookEvent,
    BatchExpiredWebhookEvent,
    BatchCancelledWebhookEvent,
)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class RecordingEndpoint:
    """An HTTP endpoint that records deliveries and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append(Received(await request.body(), dict(request.headers)))
            status = self.statuses.pop(0) if self.statuses else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app()))

    def events(self) -> list[dict[str, object]]:
        return [json.loads(r.body) for r in self.received]


def configured(secret: str) -> Simulator:
    return Simulator(ManualClock(), webhook=WebhookEndpoint(url=URL, secret=secret))


async def test_each_terminal_status_sends_an_event_the_sdk_unwraps() -> None:
    secret = new_secret()
    sim = configured(secret)
    done = upload_and_create(sim, tagging_file(2))
    failed = upload_and_create(sim, tagging_file(2), metadata={"sim_fail_validation": "1"})
    expired = upload_and_create(sim, tagging_file(2), metadata={"sim_expire": "1"})
    cancelled = upload_and_create(sim, tagging_file(2))
    sim.cancel_batch(cancelled)
    endpoint = RecordingEndpoint()
    async with endpoint.http() as http:
        sim.advance(25 * 3600)
        attempts = await sim.webhooks.deliver_due(http)

    assert [a.ok for a in attempts] == [True] * 4
    sdk = openai.OpenAI(api_key="unused", max_retries=0)
    types = {}
    for received in endpoint.received:
        event = sdk.webhooks.unwrap(received.body, received.headers, secret=secret)
        assert isinstance(event, BATCH_EVENT_TYPES)
        types[event.data.id] = event.type
        assert received.headers["webhook-id"] == event.id
        assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    sdk.close()
    assert types == {
        done: "batch.completed",
        failed: "batch.failed",
        expired: "batch.expired",
        cancelled: "batch.cancelled",
    }
    assert sim.webhooks.pending() == []


async def test_event_bodies_match_openais_webhook_schemas() -> None:
    sim = configured(new_secret())
    batch_id = upload_and_create(sim, tagging_file(1))
    endpoint = RecordingEndpoint()
    async with endpoint.http() as http:
        sim.advance(3600)
        await sim.webhooks.deliver_due(http)

    (event,) = endpoint.events()
    assert event["object"] == "event" and event["data"] == {"id": batch_id}
    assert str(event["id"]).startswith("evt_")
    assert event["created_at"] == sim.batch(batch_id).completed_at
    ref = spec()["webhooks"]["batch_completed"]["post"]["requestBody"]["content"]
    name = ref["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    validate(event, schema_for(name), cls=OAS31Validator)


async def test_a_failing_endpoint_is_retried_with_backoff_and_the_same_id() -> None:
    sim = configured(new_secret())
    upload_and_create(sim, tagging_file(1))
    endpoint = RecordingEndpoint(statuses=[500, 503])
    async with endpoint.http() as http:
        sim.advance(3600)
        first = await sim.webhooks.deliver_due(http)
        assert [(a.ok, a.status_code) for a in first] == [(False, 500)]
        # Not due again until the backoff has passed on the simulator's clock.
        sim.advance(DEFAULT_BACKOFF.delay - 1)
        assert await sim.webhooks.deliver_due(http) == []
        sim.advance(1)
        second = await sim.webhooks.deliver_due(http)
        assert [(a.ok, a.status_code, a.attempt) for a in second] == [(False, 503, 2)]
        sim.advance(DEFAULT_BACKOFF.next().delay)
        third = await sim.webhooks.deliver_due(http)

    assert [(a.ok, a.status_code, a.attempt) for a in third] == [(True, 200, 3)]
    assert len({r.headers["webhook-id"] for r in endpoint.received}) == 1
    assert sim.webhooks.pending() == [] and sim.webhooks.delivered == 1


async def test_connection_errors_are_retried_and_attempts_are_bounded() -> None:
    sim = Simulator(ManualClock())
    sim.webhooks.max_attempts = 3
    sim.webhooks.configure(WebhookEndpoint(url="http://127.0.0.1:9/hook", secret=new_secret()))
    upload_and_create(sim, tagging_file(1))
    sim.advance(3600)
    outcomes = []
    for _ in range(3):
        outcomes.extend(await sim.webhooks.deliver_due())
        sim.advance(3600)
    assert [a.ok for a in outcomes] == [False, False, False]
    assert all("ConnectError" in (a.error or "") for a in outcomes)
    assert outcomes[-1].gave_up
    assert await sim.webhooks.deliver_due() == []
    assert sim.webhooks.given_up == 1 and sim.webhooks.pending() == []


async def test_no_endpoint_no_events_and_a_secret_is_never_shown(
    asgi_http_client: httpx2.AsyncClient, simulator: Simulator
) -> None:
    upload_and_create(simulator, tagging_file(1))
    simulator.advance(3600)
    simulator.sweep()
    assert simulator.webhooks.pending() == []

    headers = {"Authorization": f"Bearer {SIM_API_KEY}"}
    secret = new_secret()
    answer = await asgi_http_client.post(
        "/_sim/webhooks", json={"url": URL, "secret": secret}, headers=headers
    )
    assert answer.status_code == 200
    assert answer.json()["endpoint"] == {"url": URL, "secret_set": True}
    assert secret not in answer.text
    bad = await asgi_http_client.post(
        "/_sim/webhooks", json={"url": "ftp://x", "secret": secret}, headers=headers
    )
    assert bad.status_code == 400 and "http(s)" in bad.json()["error"]["message"]
    off = await asgi_http_client.post("/_sim/webhooks", json={"url": None}, headers=headers)
    assert off.json()["endpoint"] is None


def test_endpoint_and_secret_are_checked() -> None:
    with pytest.raises(WebhookConfigError, match="http"):
        WebhookEndpoint(url="example.com/hook", secret=new_secret())
    with pytest.raises(WebhookConfigError, match="base64"):
        WebhookEndpoint(url=URL, secret="whsec_not base64!")
    WebhookEndpoint(url=URL, secret="a plain shared secret")


def test_command_line_options_configure_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHMON_SIM_WEBHOOK_SECRET", raising=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    secret = new_secret()
    sim = build_simulator(parser.parse_args(["--webhook-url", URL, "--webhook-secret", secret]))
    assert sim.webhooks.endpoint == WebhookEndpoint(url=URL, secret=secret)
    with pytest.raises(ValueError, match="--webhook-secret"):
        build_simulator(parser.parse_args(["--webhook-url", URL]))
    assert build_simulator(parser.parse_args([])).webhooks.endpoint is None


async def test_a_served_simulator_notices_completions_and_delivers_on_its_own(
    loopback_port: LoopbackPort,
) -> None:
    arrived: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()

    async def hook(request: Request) -> Response:
        if not arrived.done():
            arrived.set_result(json.loads(await request.body()))
        return Response(status_code=204)

    await loopback_port.serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    endpoint = WebhookEndpoint(url=loopback_port.url("/hook"), secret=new_secret())
    sim = Simulator(ManualClock(), webhook=endpoint)
    batch_id = upload_and_create(sim, tagging_file(1))
    app = create_app(sim)
    async with app.router.lifespan_context(app):  # what uvicorn runs when it serves the app
        sim.advance(3600)  # nobody asks the API: the delivery loop must notice by itself
        event = await asyncio.wait_for(arrived, 10)
    assert event["type"] == "batch.completed" and event["data"] == {"id": batch_id}
