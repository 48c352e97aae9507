"""Verify a delivery with the openai SDK and return the event it carries.

`client.webhooks.unwrap` checks the standard-webhooks signature (HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`) and rejects a timestamp more than five minutes
from this machine's clock, in either direction, then parses the body. Verification never
sends a request: the SDK client here exists only to reach `webhooks.unwrap`.

Several secrets may be active (rotation): a delivery is accepted if any of them signed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai import InvalidWebhookSignatureError

_NO_API_KEY = "verification-only-no-requests-are-sent"


class VerificationFailed(Exception):
    """The delivery is not provably from OpenAI (or not now): answer 400, act on nothing.

    `reason` is one of: missing_header, stale_timestamp, bad_signature, malformed_body.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """What a verified delivery says: its id, type and (for batch events) the batch."""

    webhook_id: str
    event_id: str
    event_type: str
    subject_id: str | None
    created_at: int | None


class WebhookVerifier:
    """Verifies deliveries against one or more secrets (newest first)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one webhook secret is needed")
        self._secrets = list(secrets)
        self._client = openai.OpenAI(api_key=_NO_API_KEY, max_retries=0)

    @property
    def secret_count(self) -> int:
        return len(self._secrets)

    def verify(self, payload: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """The event, if a configured secret signed this body recently; else raise."""
        plain = {k.lower(): v for k, v in headers.items()}
        last: VerificationFailed | None = None
        for secret in self._secrets:
            try:
                event = self._client.webhooks.unwrap(payload, plain, secret=secret)
            except InvalidWebhookSignatureError as exc:
                text = str(exc)
                if "timestamp" in text.lower():
                    # Checked before the signature: every secret would fail the same way.
                    raise VerificationFailed("stale_timestamp", text) from None
                last = VerificationFailed("bad_signature", text)
                continue
            except json.JSONDecodeError as exc:
                raise VerificationFailed("malformed_body", f"body is not JSON: {exc}") from None
            except ValueError as exc:  # the SDK's "Could not find webhook-id header"
                raise VerificationFailed("missing_header", str(exc)) from None
            return _event(plain["webhook-id"], event)
        assert last is not None
        raise last

    def close(self) -> None:
        self._client.close()


def _event(webhook_id: str, event: Any) -> VerifiedEvent:
    event_type = getattr(event, "type", None)
    event_id = getattr(event, "id", None)
    if not isinstance(event_type, str) or not isinstance(event_id, str):
        raise VerificationFailed("malformed_body", "the event has no string 'id' and 'type'")
    data = getattr(event, "data", None)
    subject = getattr(data, "id", None)
    if subject is None and isinstance(data, dict):
        subject = data.get("id")
    created = getattr(event, "created_at", None)
    return VerifiedEvent(
        webhook_id=webhook_id,
        event_id=event_id,
        event_type=event_type,
        subject_id=subject if isinstance(subject, str) else None,
        created_at=created if isinstance(created, int) else None,
    )
