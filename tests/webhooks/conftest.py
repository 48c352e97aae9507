"""Webhook test wiring: a signing secret, the receiving endpoint, and loopback serving.

The endpoint is reached in-process (httpx2.ASGITransport) or served by uvicorn on a
real 127.0.0.1 socket (``loopback_port``); the pieces tests import are in
tests/helpers/webhooks.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from starlette.applications import Starlette

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.webhooks import new_secret
from batchmon.store.postgres import PostgresStore
from batchmon.webhooks import ApplyOnEvent, WebhookVerifier, create_webhook_app
from tests.helpers.loopback import reserve_port
from tests.helpers.webhooks import HOOK_BASE_URL, Hooked, LoopbackPort, RecordingApply


@pytest.fixture
def secret() -> str:
    return new_secret()


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


@pytest.fixture
def hooked(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    hook_http: httpx2.AsyncClient,
    applier: RecordingApply,
) -> Hooked:
    return Hooked(client, store, database_url, simulator, secret, receiver_app, hook_http, applier)


@pytest.fixture
async def loopback_port() -> AsyncIterator[LoopbackPort]:
    sock = reserve_port()
    reserved = LoopbackPort(sock)
    try:
        yield reserved
    finally:
        await reserved.stop()
        sock.close()
