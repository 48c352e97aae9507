"""Receive OpenAI's signed batch webhooks and apply a finished batch at once.

The endpoint (app.py) verifies each delivery with the openai SDK, ignores replays, answers
quickly and hands batch events to an injected callable; apply_on_event.py is the callable
that syncs and applies one batch through the engine; serve.py runs it all with uvicorn.
The worker's regular poll stays the safety net for anything a webhook misses.
"""

from batchmon.webhooks.app import DEFAULT_PATH, WebhookReceiver, create_webhook_app
from batchmon.webhooks.apply_on_event import ApplyOnEvent, EventOutcome
from batchmon.webhooks.dispatch import BatchEventHandler, EventDispatcher
from batchmon.webhooks.replay import SeenIds
from batchmon.webhooks.secret_source import load_webhook_secrets
from batchmon.webhooks.verify import VerificationFailed, WebhookVerifier

__all__ = [
    "DEFAULT_PATH",
    "ApplyOnEvent",
    "BatchEventHandler",
    "EventDispatcher",
    "EventOutcome",
    "SeenIds",
    "VerificationFailed",
    "WebhookReceiver",
    "WebhookVerifier",
    "create_webhook_app",
    "load_webhook_secrets",
]
