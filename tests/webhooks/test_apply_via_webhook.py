"""A finished batch is applied through the webhook path: sim -> endpoint -> engine -> Postgres.

Real parts throughout: the simulator signs and delivers, the endpoint verifies with the
openai SDK, the engine syncs and applies through the real BatchClient into a real
PostgreSQL. No poll runs unless a test runs the worker on purpose.
"""

from __future__ import annotations

import asyncio
import time

import httpx2
from starlette.applications import Starlette

from batchmon.openai_batches import BatchClient
from batchmon.sim import Simulator
from batchmon.sim.webhooks import DEFAULT_BACKOFF, event_body, signed_headers
from batchmon.store.postgres import PostgresStore
from batchmon.webhooks import WebhookVerifier, create_webhook_app
from tests.fixtures.sim import SIM_API_KEY
from tests.helpers.engine import (
    assert_predicted,
    asset_states,
    fast_worker,
    history_counts,
    submit_finished,
    submit_new,
)
from tests.helpers.webhooks import (
    HOOK_URL,
    LoopbackPort,
    RecordingApply,
    point_sim_at,
    receiver_of,
)


async def test_a_completion_is_applied_through_the_webhook_without_a_poll(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    hook_http: httpx2.AsyncClient,
    applier: RecordingApply,
) -> None:
    point_sim_at(simulator, HOOK_URL, secret)
    batch_id, ids = await submit_finished(client, store, database_url, simulator, 12)

    attempts = await simulator.webhooks.deliver_due(hook_http)
    assert [(a.event_type, a.status_code) for a in attempts] == [("batch.completed", 200)]
    await receiver_of(receiver_app).dispatcher.drain()

    assert [o.action for o in applier.outcomes] == ["applied"]
    assert_predicted(asset_states(database_url, ids), ids)
    assert set(history_counts(database_url, ids).values()) == {1}
    row = await store.get_batch(batch_id)
    assert row is not None and row.status == "completed" and row.applied_at is not None
    assert await store.recent_poll_runs() == []


async def test_a_failed_batch_fails_its_assets_with_the_reason_via_webhook(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    hook_http: httpx2.AsyncClient,
) -> None:
    point_sim_at(simulator, HOOK_URL, secret)
    _, ids = await submit_finished(
        client, store, database_url, simulator, 3, metadata={"sim_fail_validation": "1"}
    )
    attempts = await simulator.webhooks.deliver_due(hook_http)
    assert [a.event_type for a in attempts] == ["batch.failed"]
    await receiver_of(receiver_app).dispatcher.drain()
    states = asset_states(database_url, ids)
    assert {s["status"] for s in states.values()} == {"failed"}
    assert all("validation" in (s["error"] or "") for s in states.values())


async def test_replays_are_ignored_and_after_a_restart_change_nothing(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    hook_http: httpx2.AsyncClient,
    applier: RecordingApply,
) -> None:
    point_sim_at(simulator, HOOK_URL, secret)
    _, ids = await submit_finished(client, store, database_url, simulator, 5)
    await simulator.webhooks.deliver_due(hook_http)
    await receiver_of(receiver_app).dispatcher.drain()
    (sent,) = [r for r in simulator.webhooks.history if r.ok]

    # The same delivery again (OpenAI retrying after a lost 200): acknowledged, not acted on.
    replay = await _resend(simulator, hook_http, secret, sent.event_id, sent.batch_id)
    assert replay.json() == {"status": "duplicate"}

    # After a restart the memory is empty: the store recognises the batch as applied.
    restarted = create_webhook_app(WebhookVerifier([secret]), applier)
    transport = httpx2.ASGITransport(app=restarted)
    async with httpx2.AsyncClient(transport=transport, base_url="http://hooks.test") as fresh:
        again = await _resend(simulator, fresh, secret, sent.event_id, sent.batch_id)
        assert again.json() == {"status": "accepted"}
        await receiver_of(restarted).dispatcher.drain()

    assert [o.action for o in applier.outcomes] == ["applied", "already_applied"]
    assert set(history_counts(database_url, ids).values()) == {1}


async def _resend(
    simulator: Simulator, http: httpx2.AsyncClient, secret: str, event_id: str, batch_id: str
) -> httpx2.Response:
    created = simulator.batch(batch_id).completed_at or 0
    body = event_body(event_id, "batch.completed", batch_id, created)
    headers = signed_headers(secret, event_id, int(time.time()), body)
    return await http.post(HOOK_URL, content=body, headers=headers)


async def test_a_delivery_that_fails_is_retried_over_loopback_and_applied_once(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    applier: RecordingApply,
    loopback_port: LoopbackPort,
) -> None:
    point_sim_at(simulator, loopback_port.url(), secret)
    _, ids = await submit_finished(client, store, database_url, simulator, 8)

    # The endpoint is down (the port refuses connections): the delivery fails.
    first = await simulator.webhooks.deliver_due()
    assert [a.ok for a in first] == [False] and "ConnectError" in (first[0].error or "")
    assert {s["status"] for s in asset_states(database_url, ids).values()} == {"pending"}

    # It comes up; the simulator retries once the backoff has passed.
    await loopback_port.serve(receiver_app)
    simulator.advance(DEFAULT_BACKOFF.delay)
    second = await simulator.webhooks.deliver_due()
    assert [(a.ok, a.status_code, a.attempt) for a in second] == [(True, 200, 2)]
    await receiver_of(receiver_app).dispatcher.drain()

    assert [o.action for o in applier.outcomes] == ["applied"]
    assert_predicted(asset_states(database_url, ids), ids)
    assert set(history_counts(database_url, ids).values()) == {1}


async def test_with_the_endpoint_down_nothing_is_lost_the_poll_catches_up(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    loopback_port: LoopbackPort,
) -> None:
    simulator.webhooks.max_attempts = 2
    point_sim_at(simulator, loopback_port.url(), secret)
    _, ids = await submit_finished(client, store, database_url, simulator, 6)
    attempts = await simulator.webhooks.deliver_due()
    simulator.advance(DEFAULT_BACKOFF.delay)
    attempts += await simulator.webhooks.deliver_due()
    assert [a.ok for a in attempts] == [False, False] and attempts[-1].gave_up

    report = await fast_worker(client, store).run_once()

    assert report.run.applied == 1
    assert_predicted(asset_states(database_url, ids), ids)
    assert set(history_counts(database_url, ids).values()) == {1}


async def test_webhook_and_poll_racing_for_one_batch_apply_it_once(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    simulator: Simulator,
    secret: str,
    receiver_app: Starlette,
    hook_http: httpx2.AsyncClient,
) -> None:
    point_sim_at(simulator, HOOK_URL, secret)
    _, ids = await submit_finished(client, store, database_url, simulator, 20)
    worker = fast_worker(client, store)

    async def via_webhook() -> None:
        await simulator.webhooks.deliver_due(hook_http)
        await receiver_of(receiver_app).dispatcher.drain()

    await asyncio.gather(via_webhook(), worker.run_once())

    assert_predicted(asset_states(database_url, ids), ids)
    assert set(history_counts(database_url, ids).values()) == {1}


async def test_the_sim_control_route_delivers_on_advance_to_a_live_endpoint(
    client: BatchClient,
    store: PostgresStore,
    database_url: str,
    asgi_http_client: httpx2.AsyncClient,
    secret: str,
    receiver_app: Starlette,
    loopback_port: LoopbackPort,
) -> None:
    await loopback_port.serve(receiver_app)
    auth = {"Authorization": f"Bearer {SIM_API_KEY}"}
    configured = await asgi_http_client.post(
        "/_sim/webhooks", json={"url": loopback_port.url(), "secret": secret}, headers=auth
    )
    assert configured.status_code == 200
    _, ids = await submit_new(client, store, database_url, 4)

    advanced = await asgi_http_client.post(
        "/_sim/clock/advance", json={"seconds": 3600}, headers=auth
    )
    assert advanced.json()["webhooks_sent"] == 1
    await receiver_of(receiver_app).dispatcher.drain()
    assert_predicted(asset_states(database_url, ids), ids)
