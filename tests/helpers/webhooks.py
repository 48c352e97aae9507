"""Webhook test pieces: the endpoint's URLs, a recording applier, a loopback port.

The simulator (on its ManualClock) delivers; ``deliver_due`` sweeps it and sends what is
due, so each test decides exactly when a delivery happens.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx2
import uvicorn
from starlette.applications import Starlette

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator, WebhookEndpoint
from batchmon.sim.webhooks import Attempt
from batchmon.store.postgres import PostgresStore
from batchmon.webhooks import ApplyOnEvent, EventOutcome, WebhookReceiver
from tests.helpers.engine import submit_finished
from tests.helpers.loopback import STARTUP_TIMEOUT, SignallingServer, port_of

HOOK_BASE_URL = "http://hooks.test"
HOOK_URL = f"{HOOK_BASE_URL}/webhooks/openai"


class RecordingApply:
    """Wraps ApplyOnEvent and keeps each outcome, so tests can assert what an event did."""

    def __init__(self, inner: ApplyOnEvent) -> None:
        self.inner = inner
        self.outcomes: list[EventOutcome] = []

    async def __call__(self, batch_id: str, event_type: str) -> None:
        self.outcomes.append(await self.inner.handle(batch_id, event_type))


def receiver_of(app: Starlette) -> WebhookReceiver:
    receiver: WebhookReceiver = app.state.receiver
    return receiver


def point_sim_at(simulator: Simulator, url: str, secret: str) -> None:
    simulator.webhooks.configure(WebhookEndpoint(url=url, secret=secret))


@dataclass
class Hooked:
    """The engine's client and store, the simulator, and the endpoint it delivers to."""

    client: BatchClient
    store: PostgresStore
    database_url: str
    simulator: Simulator
    secret: str
    app: Starlette
    http: httpx2.AsyncClient
    applier: RecordingApply

    async def submit_finished(
        self, count: int, *, url: str = HOOK_URL, **options: Any
    ) -> tuple[str, list[str]]:
        """Point the simulator at ``url``, submit ``count`` assets, let the batch end."""
        point_sim_at(self.simulator, url, self.secret)
        return await submit_finished(
            self.client, self.store, self.database_url, self.simulator, count, **options
        )

    async def deliver(self) -> list[Attempt]:
        """Send what is due in-process, and wait until the endpoint has handled it."""
        attempts = await self.simulator.webhooks.deliver_due(self.http)
        await receiver_of(self.app).dispatcher.drain()
        return attempts


@dataclass
class LoopbackPort:
    """A reserved 127.0.0.1 port: refuses connections until ``serve()`` starts uvicorn.

    uvicorn runs in the test's own event loop, so the store and the client the endpoint
    uses live on the same loop as the test.
    """

    sock: socket.socket
    servers: list[tuple[SignallingServer, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return port_of(self.sock)

    def url(self, path: str = "/webhooks/openai") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def serve(self, app: Starlette) -> None:
        """Start uvicorn on this socket in the running loop; returns once it listens."""
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
        ready = asyncio.Event()
        server = SignallingServer(config, ready)
        task = asyncio.create_task(server.serve(sockets=[self.sock]))
        self.servers.append((server, task))
        await asyncio.wait_for(ready.wait(), STARTUP_TIMEOUT)
        if not server.started:
            raise RuntimeError("the webhook endpoint did not start listening")

    async def stop(self) -> None:
        for server, task in self.servers:
            server.should_exit = True
            await asyncio.wait_for(task, STARTUP_TIMEOUT)
        self.servers.clear()
