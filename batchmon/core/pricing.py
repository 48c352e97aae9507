"""What a batch cost, and what the Batch API saved over calling the model directly.

The saving is the reason to put up with a 24 h window, so the monitor shows it. Prices
change: the table is a small, dated estimate, and an unknown model gives ``None`` rather
than a wrong number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from batchmon.core.models import base_model

if TYPE_CHECKING:  # annotations only: importing openai costs a second at start-up
    from openai.types import BatchRequestCounts, BatchUsage

PRICES_AS_OF = "2025-09"

STANDARD_PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
}
"""USD per 1M (input, output) tokens at standard (non-batch) rates."""

BATCH_DISCOUNT = 0.5
"""The Batch API bills half the standard rate."""


@dataclass(frozen=True, slots=True)
class Cost:
    """Estimated USD: what the batch cost, what it would have cost, and the difference.

    All None when the model's price or the token usage is unknown.
    ``per_request_usd`` spreads the batch cost over the requests that ran.
    """

    batch_usd: float | None
    standard_usd: float | None
    saving_usd: float | None
    per_request_usd: float | None = None


UNKNOWN_COST = Cost(None, None, None, None)


def price_for(model: str | None) -> tuple[float, float] | None:
    """Standard (input, output) USD per 1M tokens; dated snapshots share their base price."""
    if not model:
        return None
    name = model.strip().lower()
    return STANDARD_PRICES_PER_MILLION.get(name) or STANDARD_PRICES_PER_MILLION.get(
        base_model(name)
    )


def _tokens(usage: BatchUsage | Mapping[str, Any] | None) -> tuple[int, int] | None:
    if usage is None:
        return None
    if not isinstance(usage, Mapping):  # the SDK's BatchUsage
        return usage.input_tokens, usage.output_tokens
    tokens_in = usage.get("input_tokens")
    tokens_out = usage.get("output_tokens")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    if tokens_in < 0 or tokens_out < 0:
        return None
    return tokens_in, tokens_out


def _requests_run(counts: BatchRequestCounts | Mapping[str, Any] | None) -> int:
    if counts is None:
        return 0
    if not isinstance(counts, Mapping):  # the SDK's BatchRequestCounts
        return counts.completed + counts.failed
    done = 0
    for key in ("completed", "failed"):
        value = counts.get(key)
        if isinstance(value, int) and value > 0:
            done += value
    return done


def estimate_cost(
    model: str | None,
    usage: BatchUsage | Mapping[str, Any] | None,
    request_counts: BatchRequestCounts | Mapping[str, Any] | None = None,
) -> Cost:
    """Estimate a batch's cost from its ``usage`` (``input_tokens``, ``output_tokens``).

    Accepts the SDK models or the plain dicts the store keeps. Cached-token discounts are
    ignored, so this errs on the high side.
    """
    price = price_for(model)
    tokens = _tokens(usage)
    if price is None or tokens is None:
        return UNKNOWN_COST
    (price_in, price_out), (tokens_in, tokens_out) = price, tokens
    standard = (tokens_in * price_in + tokens_out * price_out) / 1_000_000
    batch = standard * BATCH_DISCOUNT
    requests_run = _requests_run(request_counts)
    per_request = batch / requests_run if requests_run else None
    return Cost(
        batch_usd=batch,
        standard_usd=standard,
        saving_usd=standard - batch,
        per_request_usd=per_request,
    )
