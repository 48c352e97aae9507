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
    assert_applied_once,
    assert_predicted,
    asset_states,
    fast_worker,
    history_counts,
    submit_new,
)
from tests.helpers.webhooks import HOOK_URL, Hooked, LoopbackPort, receiver_of


async def test_a_completion_is_applied_through_the_webhook_without_a_poll(hooked: Hooked) -> None:
    batch_id, ids = await hooked.submit_finished(12)

    attempts = await hooked.deliver()
    assert [(a.event_type, a.status_code) for a in attempts] == [("batch.completed", 200)]

    assert [o.action for o in hooked.applier.outcomes] == ["applied"]
    assert_applied_once(hooked.database_url, ids)
    row = await hooked.store.get_batch(batch_id)
    assert row is not None and row.status == "completed" and row.applied_at is not None
    assert await hooked.store.recent_poll_runs() == []


async def test_a_failed_batch_fails_its_assets_with_the_reason_via_webhook(
    hooked: Hooked,
) -> None:
    _, ids = await hooked.submit_finished(3, metadata={"sim_fail_validation": "1"})
    attempts = await hooked.deliver()
    assert [a.event_type for a in attempts] == ["batch.failed"]
    states = asset_states(hooked.database_url, ids)
    assert {s["status"] for s in states.values()} == {"failed"}
    assert all("validation" in (s["error"] or "") for s in states.values())


async def test_replays_are_ignored_and_after_a_restart_change_nothing(hooked: Hooked) -> None:
    simulator, secret = hooked.simulator, hooked.secret
    _, ids = await hooked.submit_finished(5)
    await hooked.deliver()
    (sent,) = [r for r in simulator.webhooks.history if r.ok]

    # The same delivery again (OpenAI retrying after a lost 200): acknowledged, not acted on.
    replay = await _resend(simulator, hooked.http, secret, sent.event_id, sent.batch_id)
    assert replay.json() == {"status": "duplicate"}

    # After a restart the memory is empty: the store recognises the batch as applied.
    restarted = create_webhook_app(WebhookVerifier([secret]), hooked.applier)
    transport = httpx2.ASGITransport(app=restarted)
    async with httpx2.AsyncClient(transport=transport, base_url="http://hooks.test") as fresh:
        again = await _resend(simulator, fresh, secret, sent.event_id, sent.batch_id)
        assert again.json() == {"status": "accepted"}
        await receiver_of(restarted).dispatcher.drain()

    assert [o.action for o in hooked.applier.outcomes] == ["applied", "already_applied"]
    assert set(history_counts(hooked.database_url, ids).values()) == {1}


async def _resend(
    simulator: Simulator, http: httpx2.AsyncClient, secret: str, event_id: str, batch_id: str
) -> httpx2.Response:
    created = simulator.batch(batch_id).completed_at or 0
    body = event_body(event_id, "batch.completed", batch_id, created)
    headers = signed_headers(secret, event_id, int(time.time()), body)
    return await http.post(HOOK_URL, content=body, headers=headers)


async def test_a_delivery_that_fails_is_retried_over_loopback_and_applied_once(
    hooked: Hooked, loopback_port: LoopbackPort
) -> None:
    simulator = hooked.simulator
    _, ids = await hooked.submit_finished(8, url=loopback_port.url())

    # The endpoint is down (the port refuses connections): the delivery fails.
    first = await simulator.webhooks.deliver_due()
    assert [a.ok for a in first] == [False] and "ConnectError" in (first[0].error or "")
    assert {s["status"] for s in asset_states(hooked.database_url, ids).values()} == {"pending"}

    # It comes up; the simulator retries once the backoff has passed.
    await loopback_port.serve(hooked.app)
    simulator.advance(DEFAULT_BACKOFF.delay)
    second = await simulator.webhooks.deliver_due()
    assert [(a.ok, a.status_code, a.attempt) for a in second] == [(True, 200, 2)]
    await receiver_of(hooked.app).dispatcher.drain()

    assert [o.action for o in hooked.applier.outcomes] == ["applied"]
    assert_applied_once(hooked.database_url, ids)


async def test_with_the_endpoint_down_nothing_is_lost_the_poll_catches_up(
    hooked: Hooked, loopback_port: LoopbackPort
) -> None:
    simulator = hooked.simulator
    simulator.webhooks.max_attempts = 2
    _, ids = await hooked.submit_finished(6, url=loopback_port.url())
    attempts = await simulator.webhooks.deliver_due()
    simulator.advance(DEFAULT_BACKOFF.delay)
    attempts += await simulator.webhooks.deliver_due()
    assert [a.ok for a in attempts] == [False, False] and attempts[-1].gave_up

    report = await fast_worker(hooked.client, hooked.store).run_once()

    assert report.run.applied == 1
    assert_applied_once(hooked.database_url, ids)


async def test_webhook_and_poll_racing_for_one_batch_apply_it_once(hooked: Hooked) -> None:
    _, ids = await hooked.submit_finished(20)
    worker = fast_worker(hooked.client, hooked.store)

    await asyncio.gather(hooked.deliver(), worker.run_once())

    assert_applied_once(hooked.database_url, ids)


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
