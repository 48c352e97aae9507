"""Webhook test wiring: a signing secret, the receiving endpoint, and loopback serving.

The simulator (on its ManualClock) delivers; `deliver()` sweeps it and sends what is due,
so each test decides exactly when a delivery happens. The endpoint is reached in-process
(httpx2.ASGITransport) or served by uvicorn on a real 127.0.0.1 socket in the test's own
event loop, so the store and the client it uses live on the same loop as the test.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator, WebhookEndpoint
from batchmon.sim.webhooks import new_secret
from batchmon.store.postgres import PostgresStore
from batchmon.webhooks import (
    ApplyOnEvent,
    EventOutcome,
    WebhookReceiver,
    WebhookVerifier,
    create_webhook_app,
)
from tests.fixtures.sim import ASGI_BASE_URL, SIM_API_KEY

HOOK_BASE_URL = "http://hooks.test"
HOOK_URL = f"{HOOK_BASE_URL}/webhooks/openai"
STARTUP_TIMEOUT = 10.0


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
async def client(asgi_http_client: httpx2.AsyncClient) -> AsyncIterator[BatchClient]:
    """The real BatchClient on the in-process simulator."""
    batch_client = BatchClient(
        api_key=SIM_API_KEY, base_url=f"{ASGI_BASE_URL}/v1", http_client=asgi_http_client
    )
    try:
        yield batch_client
    finally:
        await batch_client.aclose()


class RecordingApply:
    """Wraps ApplyOnEvent and keeps each outcome, so tests can assert what an event did."""

    def __init__(self, inner: ApplyOnEvent) -> None:
        self.inner = inner
        self.outcomes: list[EventOutcome] = []

    async def __call__(self, batch_id: str, event_type: str) -> None:
        self.outcomes.append(await self.inner.handle(batch_id, event_type))


@pytest.fixture
def applier(client: BatchClient, store: PostgresStore) -> RecordingApply:
    return RecordingApply(ApplyOnEvent(client, store))


@pytest.fixture
def verifier(secret: str) -> Iterator[WebhookVerifier]:
    made = WebhookVerifier([secret])
    yield made
    made.close()


@pytest.fixture
def receiver_app(verifier: WebhookVerifier, applier: RecordingApply) -> Starlette:
    return create_webhook_app(verifier, applier)


def receiver_of(app: Starlette) -> WebhookReceiver:
    receiver: WebhookReceiver = app.state.receiver
    return receiver


@pytest.fixture
async def hook_http(receiver_app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    """An httpx2 client that reaches the endpoint in-process."""
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=receiver_app), base_url=HOOK_BASE_URL
    )
    try:
        yield http
    finally:
        await http.aclose()


def point_sim_at(simulator: Simulator, url: str, secret: str) -> None:
    simulator.webhooks.configure(WebhookEndpoint(url=url, secret=secret))


class _SignallingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


@dataclass
class LoopbackPort:
    """A reserved 127.0.0.1 port: refuses connections until `serve()` starts uvicorn."""

    sock: socket.socket
    servers: list[tuple[_SignallingServer, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def url(self, path: str = "/webhooks/openai") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def serve(self, app: Starlette) -> None:
        """Start uvicorn on this socket in the running loop; returns once it listens."""
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
        server = _SignallingServer(config)
        task = asyncio.create_task(server.serve(sockets=[self.sock]))
        self.servers.append((server, task))
        await asyncio.wait_for(server.ready.wait(), STARTUP_TIMEOUT)
        if not server.started:
            raise RuntimeError("the webhook endpoint did not start listening")

    async def stop(self) -> None:
        for server, task in self.servers:
            server.should_exit = True
            await asyncio.wait_for(task, STARTUP_TIMEOUT)
        self.servers.clear()


@pytest.fixture
async def loopback_port() -> AsyncIterator[LoopbackPort]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    reserved = LoopbackPort(sock)
    try:
        yield reserved
    finally:
        await reserved.stop()
        sock.close()
