"""The webhook endpoint: an ASGI app that verifies, de-duplicates and acknowledges.

POST {path} (default /webhooks/openai):
- 400 when the delivery fails verification (bad signature, timestamp more than five
  minutes off, missing headers, body not JSON); nothing is acted on.
- 413 for a body over the limit (events are a few hundred bytes).
- 200 {"status": "accepted"} for a batch event, handed to `on_batch_event` in the
  background; {"status": "duplicate"} for a `webhook-id` seen before; {"status":
  "ignored"} for other event types. A 2xx stops OpenAI's retries, so it is sent only
  once the delivery is verified.
GET /healthz answers 200 for the proxy's health check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from batchmon.webhooks.dispatch import BatchEventHandler, EventDispatcher
from batchmon.webhooks.replay import SeenIds
from batchmon.webhooks.verify import VerificationFailed, WebhookVerifier

log = logging.getLogger(__name__)

DEFAULT_PATH = "/webhooks/openai"
MAX_BODY = 1024 * 1024
BATCH_EVENTS = frozenset({"batch.completed", "batch.failed", "batch.expired", "batch.cancelled"})


class BodyTooLarge(Exception):
    pass


class WebhookReceiver:
    """The endpoint's state: verifier, replay memory, background dispatcher, counters."""

    def __init__(
        self,
        verifier: WebhookVerifier,
        on_batch_event: BatchEventHandler,
        *,
        seen: SeenIds | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.verifier = verifier
        self.seen = seen if seen is not None else SeenIds()
        self.max_body = max_body
        self.dispatcher = EventDispatcher(on_batch_event, on_failure=self._failed)
        self.counts: dict[str, int] = {}

    def _failed(self, webhook_id: str, exc: BaseException) -> None:
        # Acknowledged already; forgetting the id lets a redelivery (e.g. one sent again
        # from the dashboard) act. The poll catches the batch in any case.
        self.seen.forget(webhook_id)

    def _count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def receive(self, request: Request) -> Response:
        try:
            payload = await self._body(request)
        except BodyTooLarge:
            self._count("too_large")
            return _answer(413, {"error": f"body larger than {self.max_body} bytes"})
        try:
            event = self.verifier.verify(payload, dict(request.headers))
        except VerificationFailed as exc:
            self._count(exc.reason)
            log.warning("rejected a webhook delivery: %s (%s)", exc.reason, exc.message)
            return _answer(400, {"error": exc.message, "reason": exc.reason})
        if not self.seen.first_time(event.webhook_id):
            self._count("duplicate")
            log.info("ignored a replayed webhook %s (%s)", event.webhook_id, event.event_type)
            return _answer(200, {"status": "duplicate"})
        if event.event_type not in BATCH_EVENTS or event.subject_id is None:
            self._count("ignored")
            return _answer(200, {"status": "ignored", "type": event.event_type})
        self._count("accepted")
        log.info("webhook %s for %s", event.event_type, event.subject_id)
        self.dispatcher.submit(event.webhook_id, event.subject_id, event.event_type)
        return _answer(200, {"status": "accepted"})


def _answer(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status)


def create_webhook_app(
    verifier: WebhookVerifier,
    on_batch_event: BatchEventHandler,
    *,
    path: str = DEFAULT_PATH,
    seen: SeenIds | None = None,
    drain_timeout: float = 30.0,
) -> Starlette:
    """The endpoint as a Starlette app; `app.state.receiver` is its WebhookReceiver.

    `on_batch_event(batch_id, event_type)` is awaited in the background for each new
    batch event; on shutdown, in-flight events get `drain_timeout` seconds to finish.
    """
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/'; got {path!r}")
    receiver = WebhookReceiver(verifier, on_batch_event, seen=seen)

    async def receive(request: Request) -> Response:
        return await receiver.receive(request)

    async def healthz(request: Request) -> Response:
        return _answer(200, {"status": "ok", "in_flight": receiver.dispatcher.in_flight})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await receiver.dispatcher.aclose(drain_timeout)

    app = Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.receiver = receiver
    return app
