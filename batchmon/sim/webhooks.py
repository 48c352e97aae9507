"""Webhook delivery from the simulator, the way OpenAI delivers batch events.

When a batch enters completed, failed, expired or cancelled, an event is queued for the
configured endpoint and POSTed with the standard-webhooks headers (`webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), so the openai SDK's
`client.webhooks.unwrap` accepts it exactly as it accepts OpenAI's. A failed delivery
(non-2xx or a connection error) is retried with exponential backoff on the simulator's
clock, with the same `webhook-id`, up to a bounded number of attempts.

The simulator's state advances lazily (on requests), so something must notice
transitions: `deliver_due()` sweeps the simulator first, then sends what is due. A served
simulator runs `run()` in the background; a test on a ManualClock calls `deliver_due()`
after `advance()` and so controls exactly when deliveries happen.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from batchmon.core.backoff import Backoff

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "completed": "batch.completed",
    "failed": "batch.failed",
    "expired": "batch.expired",
    "cancelled": "batch.cancelled",
}
"""The batch statuses OpenAI sends an event for, and the event type it sends."""

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = Backoff(initial=5.0, maximum=3600.0, factor=2.0)
"""Simulated seconds before each retry: 5, 10, 20, ... capped at an hour."""

USER_AGENT = "batchmon-sim/1.0 (OpenAI-compatible webhooks)"
HISTORY = 1000


class WebhookConfigError(ValueError):
    """The endpoint URL or secret cannot be used; the message says why."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: a `whsec_<base64>` secret is base64, anything else raw.

    This is the decoding the openai SDK applies, so both sides derive the same key.
    """
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookConfigError(
                "a secret starting with 'whsec_' must continue with base64 "
                "(e.g. one made by batchmon.sim.webhooks.new_secret())"
            ) from None
    return secret.encode()


def new_secret() -> str:
    """A fresh secret in OpenAI's shape: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery carries (also used by tests to forge stale or bad ones)."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def event_body(event_id: str, event_type: str, batch_id: str, created_at: int) -> bytes:
    """An event as OpenAI sends it: `{id, object, type, created_at, data: {id}}`."""
    event = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created_at": created_at,
        "data": {"id": batch_id},
    }
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where events go and the secret they are signed with (never shown back)."""

    url: str
    secret: str

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise WebhookConfigError(f"webhook url must be an http(s) URL; got {self.url!r}")
        if not isinstance(self.secret, str) or not self.secret:
            raise WebhookConfigError("webhook secret must be a non-empty string")
        secret_key(self.secret)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "secret_set": True}


@dataclass(slots=True)
class PendingDelivery:
    """One event on its way: the body is fixed, only the timestamp and signature change."""

    event_id: str
    event_type: str
    batch_id: str
    body: bytes
    next_at: float
    attempts: int = 0
    backoff: Backoff = DEFAULT_BACKOFF
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST did."""

    event_id: str
    event_type: str
    batch_id: str
    attempt: int
    ok: bool
    status_code: int | None
    error: str | None
    gave_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "batch_id": self.batch_id,
            "attempt": self.attempt,
            "ok": self.ok,
            "status_code": self.status_code,
            "error": self.error,
            "gave_up": self.gave_up,
        }


class EventSource(Protocol):
    """What delivery needs from the simulator (kept narrow to avoid an import cycle)."""

    seed: int

    def now(self) -> float: ...

    def sweep(self) -> None: ...


class SimWebhooks:
    """The simulator's outbox: queues events on transitions, POSTs them, retries failures.

    `listener` is registered with the simulator and may be called from any thread (under
    the simulator's lock); delivery runs on one asyncio loop. A transition is queued only
    while an endpoint is configured, as with OpenAI, where events go to endpoints that
    exist when they happen.
    """

    def __init__(
        self,
        source: EventSource,
        endpoint: WebhookEndpoint | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: Backoff = DEFAULT_BACKOFF,
        timeout: float = 5.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._source = source
        self._endpoint = endpoint
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._pending: list[PendingDelivery] = []
        self._in_flight: set[str] = set()
        self.history: deque[Attempt] = deque(maxlen=HISTORY)
        self._tls: ssl.SSLContext | None = None
        self.delivered = 0
        self.given_up = 0

    # -- configuration ----------------------------------------------------------------

    @property
    def endpoint(self) -> WebhookEndpoint | None:
        return self._endpoint

    def configure(self, endpoint: WebhookEndpoint | None) -> None:
        """Send future events (and queued ones) to `endpoint`; None stops queueing."""
        with self._lock:
            self._endpoint = endpoint

    # -- the listener -----------------------------------------------------------------

    def listener(self, batch: dict[str, Any], status: str) -> None:
        """Queue an event if `status` is one OpenAI announces and an endpoint is set."""
        event_type = EVENT_TYPES.get(status)
        if event_type is None:
            return
        with self._lock:
            if self._endpoint is None:
                return
            batch_id = str(batch["id"])
            created_at = int(batch.get(f"{status}_at") or self._source.now())
            digest = hashlib.sha256(f"{self._source.seed}:{batch_id}:{status}".encode())
            event_id = "evt_" + digest.hexdigest()[:32]
            self._pending.append(
                PendingDelivery(
                    event_id=event_id,
                    event_type=event_type,
                    batch_id=batch_id,
                    body=event_body(event_id, event_type, batch_id, created_at),
                    next_at=self._source.now(),
                    backoff=self.backoff,
                )
            )

    # -- delivery ---------------------------------------------------------------------

    def pending(self) -> list[PendingDelivery]:
        """Events not yet delivered (a copy)."""
        with self._lock:
            return list(self._pending)

    def _take_due(self) -> tuple[WebhookEndpoint | None, list[PendingDelivery]]:
        now = self._source.now()
        with self._lock:
            due = [
                d for d in self._pending if d.next_at <= now and d.event_id not in self._in_flight
            ]
            self._in_flight.update(d.event_id for d in due)
            return self._endpoint, due

    async def deliver_due(self, http: httpx2.AsyncClient | None = None) -> list[Attempt]:
        """Notice transitions (sweep), then POST every event whose time has come.

        `http` chooses the transport (a test may pass an in-process ASGI client); by
        default a short-lived client with `timeout` is used.
        """
        self._source.sweep()
        endpoint, due = self._take_due()
        if not due:
            return []
        if endpoint is None:  # configuration removed after queueing: keep for later
            with self._lock:
                self._in_flight.difference_update(d.event_id for d in due)
            return []
        own = http is None
        client = http if http is not None else self._client()
        attempts: list[Attempt] = []
        try:
            for delivery in due:
                attempts.append(await self._attempt(client, endpoint, delivery))
        finally:
            with self._lock:
                self._in_flight.difference_update(d.event_id for d in due)
            if own:
                await client.aclose()
        return attempts

    def _client(self) -> httpx2.AsyncClient:
        """A short-lived client (one loop may not own it long); the TLS setup is reused."""
        if self._tls is None:
            self._tls = ssl.create_default_context()  # the system trust store
        return httpx2.AsyncClient(timeout=self.timeout, verify=self._tls)

    async def _attempt(
        self, client: httpx2.AsyncClient, endpoint: WebhookEndpoint, delivery: PendingDelivery
    ) -> Attempt:
        timestamp = int(self._wall_clock())
        headers = signed_headers(endpoint.secret, delivery.event_id, timestamp, delivery.body)
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(endpoint.url, content=delivery.body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"endpoint answered {status}"
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery.attempts += 1
        ok = error is None
        gave_up = not ok and delivery.attempts >= self.max_attempts
        with self._lock:
            if ok or gave_up:
                self._pending = [d for d in self._pending if d.event_id != delivery.event_id]
            else:
                delivery.last_error = error
                delivery.next_at = self._source.now() + delivery.backoff.delay
                delivery.backoff = delivery.backoff.next()
            if ok:
                self.delivered += 1
            if gave_up:
                self.given_up += 1
        attempt = Attempt(
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            batch_id=delivery.batch_id,
            attempt=delivery.attempts,
            ok=ok,
            status_code=status,
            error=error,
            gave_up=gave_up,
        )
        self.history.append(attempt)
        if not ok:
            log.info(
                "webhook %s for %s: attempt %d failed (%s)%s",
                delivery.event_type,
                delivery.batch_id,
                delivery.attempts,
                error,
                "; giving up" if gave_up else "",
            )
        return attempt

    async def run(self, interval: float = 0.25) -> None:
        """Deliver in the background until cancelled (a served simulator's lifespan)."""
        while True:
            if self._endpoint is not None:
                try:
                    await self.deliver_due()
                except Exception:  # keep delivering: one bad round must not end the loop
                    log.exception("webhook delivery round failed")
            await asyncio.sleep(interval)

    def state(self) -> dict[str, Any]:
        """Configuration and counters for /_sim (never the secret)."""
        with self._lock:
            return {
                "endpoint": self._endpoint.to_dict() if self._endpoint else None,
                "pending": [
                    {
                        "event_id": d.event_id,
                        "type": d.event_type,
                        "batch_id": d.batch_id,
                        "attempts": d.attempts,
                        "next_at": d.next_at,
                        "last_error": d.last_error,
                    }
                    for d in self._pending
                ],
                "delivered": self.delivered,
                "given_up": self.given_up,
                "max_attempts": self.max_attempts,
            }
