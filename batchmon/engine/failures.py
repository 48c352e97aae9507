"""Which failures are worth trying again, and how long to wait before the next try.

A batch that failed because OpenAI's queue was full (``token_limit_exceeded``: "Please
try again once some in_progress batches have been completed") says nothing about its
requests; failing its assets would make a person pay to find that out. Validation
failures (a bad model, a malformed line) do fail them, with the reasons.
"""

from __future__ import annotations

from datetime import timedelta

from openai.types import Batch

TRANSIENT_BATCH_CODES = frozenset({"token_limit_exceeded", "rate_limit_exceeded"})
"""Batch-level error codes OpenAI documents as "try again later", not as bad input."""

WAITING_FOR_QUEUE = "waiting for queue room"


def is_transient_failure(batch: Batch) -> bool:
    """A ``failed`` batch whose every error says "try again later"."""
    if batch.status != "failed":
        return False
    data = batch.errors.data if batch.errors and batch.errors.data else []
    return bool(data) and all(says_try_again(err.code, err.message) for err in data)


def says_try_again(code: str | None, message: str | None) -> bool:
    """One batch error OpenAI means as "try again later", not as bad input."""
    return code in TRANSIENT_BATCH_CODES or "try again" in (message or "").lower()


# Per-request reasons (as apply stores them) that resending unchanged cannot fix: the
# request itself was refused (HTTP 400: a bad image URL, an invalid request) or the
# content was refused. Everything else (rate limits, server errors, timeouts, expired,
# cancelled, no result returned, an unusable reply) may well succeed next time.
_PERMANENT_MARKERS = (
    "http 400",
    "http 422",
    "invalid_image_url",
    "invalid image url",
    "content_policy",
    "content policy",
    "content filter",
    "the model refused",
)


def is_permanent_reason(reason: str | None) -> bool:
    """An asset failure that a retry of the same request would only repeat."""
    text = (reason or "").lower()
    return any(marker in text for marker in _PERMANENT_MARKERS)


def backoff(attempt: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """``base`` doubled for each attempt after the first, never more than ``cap``."""
    if attempt <= 0:
        return timedelta(0)
    return min(base * 2 ** min(attempt - 1, 30), cap)
