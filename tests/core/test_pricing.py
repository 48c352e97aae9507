"""Cost estimates: half price for batches, and no guesses for unknown models."""

from __future__ import annotations

import pytest
from openai.types import BatchRequestCounts, BatchUsage

from batchmon.core.pricing import (
    BATCH_DISCOUNT,
    STANDARD_PRICES_PER_MILLION,
    Cost,
    estimate_cost,
    price_for,
)

USAGE = {"input_tokens": 2_000_000, "output_tokens": 500_000, "total_tokens": 2_500_000}


def test_gpt_4o_mini_batch_costs_half_of_standard() -> None:
    # standard: 2M * 0.15 + 0.5M * 0.60 = 0.30 + 0.30 = 0.60 USD
    cost = estimate_cost("gpt-4o-mini", USAGE, {"completed": 90, "failed": 10, "total": 100})
    assert cost.standard_usd == pytest.approx(0.60)
    assert cost.batch_usd == pytest.approx(0.30)
    assert cost.saving_usd == pytest.approx(0.30)
    assert cost.per_request_usd == pytest.approx(0.003)


def test_sdk_usage_and_counts_are_accepted() -> None:
    usage = BatchUsage.model_validate(
        {
            "input_tokens": 1_000_000,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1_000_000,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2_000_000,
        }
    )
    counts = BatchRequestCounts(completed=4, failed=0, total=4)
    cost = estimate_cost("gpt-4.1", usage, counts)
    assert cost.standard_usd == pytest.approx(10.0)
    assert cost.batch_usd == pytest.approx(5.0)
    assert cost.per_request_usd == pytest.approx(1.25)


@pytest.mark.parametrize(
    "model",
    ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini", "gpt-5"],
)
def test_every_listed_model_has_a_price_and_batch_is_half(model: str) -> None:
    assert model in STANDARD_PRICES_PER_MILLION
    cost = estimate_cost(model, USAGE, None)
    assert cost.batch_usd is not None and cost.standard_usd is not None
    assert cost.batch_usd == pytest.approx(cost.standard_usd * BATCH_DISCOUNT)
    assert cost.per_request_usd is None


def test_dated_snapshots_use_their_base_price_without_confusing_mini_with_full() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == STANDARD_PRICES_PER_MILLION["gpt-4o-mini"]
    assert price_for("gpt-4o-2024-08-06") == STANDARD_PRICES_PER_MILLION["gpt-4o"]
    assert price_for("GPT-4.1-nano") == STANDARD_PRICES_PER_MILLION["gpt-4.1-nano"]


@pytest.mark.parametrize(
    ("model", "usage"),
    [
        ("gpt-9-ultra", USAGE),
        (None, USAGE),
        ("gpt-4o-mini-tts", USAGE),
        ("gpt-4o-mini", None),
        ("gpt-4o-mini", {"input_tokens": "many", "output_tokens": 1}),
        ("gpt-4o-mini", {"output_tokens": 1}),
        ("gpt-4o-mini", {"input_tokens": -1, "output_tokens": 1}),
    ],
)
def test_unknown_model_or_usage_gives_no_numbers(model: str | None, usage: object) -> None:
    assert estimate_cost(model, usage, None) == Cost(None, None, None, None)  # type: ignore[arg-type]
