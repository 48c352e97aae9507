"""The endpoint's HTTP and verification layer, with a recording `on_batch_event`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette

from batchmon.sim.webhooks import event_body, new_secret, signed_headers
from batchmon.webhooks import WebhookVerifier, create_webhook_app
from tests.helpers.webhooks import HOOK_BASE_URL, receiver_of

PATH = "/webhooks/openai"


class Calls:
    """Records each (batch_id, event_type); optionally fails the first call."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_first = fail_first

    async def __call__(self, batch_id: str, event_type: str) -> None:
        self.calls.append((batch_id, event_type))
        if self.fail_first and len(self.calls) == 1:
            raise RuntimeError("database unavailable")


def delivery(
    secret: str,
    *,
    webhook_id: str = "msg_1",
    event_type: str = "batch.completed",
    batch_id: str = "batch_1",
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = event_body(f"evt_{webhook_id}", event_type, batch_id, 1_767_225_600)
    stamp = int(time.time()) if timestamp is None else timestamp
    return body, signed_headers(secret, webhook_id, stamp, body)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def app(secret: str, calls: Calls) -> Starlette:
    return create_webhook_app(WebhookVerifier([secret]), calls)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=HOOK_BASE_URL
    ) as client:
        yield client


async def post(http: httpx2.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx2.Response:
    return await http.post(PATH, content=body, headers=headers)


async def test_a_signed_batch_event_is_acknowledged_and_handed_over(
    http: httpx2.AsyncClient, app: Starlette, calls: Calls, secret: str
) -> None:
    answer = await post(http, *delivery(secret, batch_id="batch_abc"))
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}
    await receiver_of(app).dispatcher.drain()
    assert calls.calls == [("batch_abc", "batch.completed")]


async def test_the_answer_does_not_wait_for_the_handler(secret: str) -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def slow(batch_id: str, event_type: str) -> None:
        seen.append(batch_id)
        await release.wait()

    app = create_webhook_app(WebhookVerifier([secret]), slow)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=HOOK_BASE_URL) as http:
        answer = await post(http, *delivery(secret))
        assert answer.status_code == 200
        assert receiver_of(app).dispatcher.in_flight == 1
        release.set()
        await receiver_of(app).dispatcher.drain()
    assert seen == ["batch_1"]


async def test_a_bad_signature_is_rejected_with_400_and_nothing_happens(
    http: httpx2.AsyncClient, calls: Calls, secret: str
) -> None:
    body, headers = delivery(new_secret())
    answer = await post(http, body, headers)
    assert answer.status_code == 400 and answer.json()["reason"] == "bad_signature"

    body, headers = delivery(secret)
    tampered = body.replace(b"batch_1", b"batch_2")
    answer = await post(http, tampered, headers)
    assert answer.status_code == 400 and answer.json()["reason"] == "bad_signature"
    assert calls.calls == []


async def test_a_stale_or_future_timestamp_is_rejected_with_400(
    http: httpx2.AsyncClient, calls: Calls, secret: str
) -> None:
    stale = await post(http, *delivery(secret, timestamp=int(time.time()) - 600))
    assert stale.status_code == 400
    assert stale.json() == {"error": "Webhook timestamp is too old", "reason": "stale_timestamp"}
    future = await post(http, *delivery(secret, timestamp=int(time.time()) + 600))
    assert future.status_code == 400 and future.json()["reason"] == "stale_timestamp"
    assert calls.calls == []


async def test_missing_headers_and_a_body_that_is_not_json_are_rejected(
    http: httpx2.AsyncClient, calls: Calls, secret: str
) -> None:
    body, headers = delivery(secret)
    del headers["webhook-signature"]
    answer = await post(http, body, headers)
    assert answer.status_code == 400 and answer.json()["reason"] == "missing_header"
    junk = b"not json"
    answer = await post(http, junk, signed_headers(secret, "msg_j", int(time.time()), junk))
    assert answer.status_code == 400 and answer.json()["reason"] == "malformed_body"
    assert calls.calls == []


async def test_a_replayed_webhook_id_is_acknowledged_but_not_acted_on_twice(
    http: httpx2.AsyncClient, app: Starlette, calls: Calls, secret: str
) -> None:
    first = await post(http, *delivery(secret, webhook_id="msg_same"))
    again = await post(http, *delivery(secret, webhook_id="msg_same"))
    assert first.json() == {"status": "accepted"}
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    await receiver_of(app).dispatcher.drain()
    assert calls.calls == [("batch_1", "batch.completed")]


async def test_other_event_types_are_acknowledged_and_ignored(
    http: httpx2.AsyncClient, app: Starlette, calls: Calls, secret: str
) -> None:
    answer = await post(http, *delivery(secret, event_type="response.completed"))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    await receiver_of(app).dispatcher.drain()
    assert calls.calls == []


async def test_each_batch_event_type_is_handed_over(
    http: httpx2.AsyncClient, app: Starlette, calls: Calls, secret: str
) -> None:
    kinds = ["batch.completed", "batch.failed", "batch.expired", "batch.cancelled"]
    for i, kind in enumerate(kinds):
        answer = await post(http, *delivery(secret, webhook_id=f"m{i}", event_type=kind))
        assert answer.json() == {"status": "accepted"}
    await receiver_of(app).dispatcher.drain()
    assert sorted(calls.calls) == sorted(("batch_1", k) for k in kinds)


async def test_an_oversized_body_is_refused(http: httpx2.AsyncClient, secret: str) -> None:
    big = b"{" + b" " * (1024 * 1024) + b"}"
    answer = await post(http, big, signed_headers(secret, "msg_big", int(time.time()), big))
    assert answer.status_code == 413


async def test_a_failed_handling_lets_a_redelivery_act_again(secret: str) -> None:
    calls = Calls(fail_first=True)
    app = create_webhook_app(WebhookVerifier([secret]), calls)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=HOOK_BASE_URL) as http:
        assert (await post(http, *delivery(secret))).json() == {"status": "accepted"}
        await receiver_of(app).dispatcher.drain()
        assert (await post(http, *delivery(secret))).json() == {"status": "accepted"}
        await receiver_of(app).dispatcher.drain()
    assert len(calls.calls) == 2
    assert receiver_of(app).dispatcher.failed == 1 and receiver_of(app).dispatcher.handled == 1


async def test_during_rotation_both_secrets_verify_and_a_dropped_one_does_not() -> None:
    old, new = new_secret(), new_secret()
    rotating = WebhookVerifier([new, old])
    for secret in (old, new):
        body, headers = delivery(secret)
        assert rotating.verify(body, headers).subject_id == "batch_1"
    after = WebhookVerifier([new])
    body, headers = delivery(old)
    with pytest.raises(Exception, match="does not match"):
        after.verify(body, headers)
    rotating.close()
    after.close()


async def test_health_check_answers(http: httpx2.AsyncClient) -> None:
    answer = await http.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
