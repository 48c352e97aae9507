"""What the "Tag N untagged assets" confirmation says about a job's plan, without Qt.

The planner (:mod:`batchmon.core.planner`) has split the assets into batches inside
OpenAI's limits; this module words that plan for a person (batches, requests,
estimated tokens, estimated cost and the saving against standard prices), says at which
image size it counts each image, and works out how far a budget reaches, since the queue
stops submitting once the next batch's estimate would pass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

from batchmon.core.formatting import format_tokens
from batchmon.core.planner import PlannedBatch, PlanSummary
from batchmon.core.tokens import image_tokens, parse_optional_image_size

UNKNOWN_SIZE = "Unknown"
SIZE_CHOICES = (UNKNOWN_SIZE, "512x512", "1024x1024", "2048x2048")
"""What the size field offers; any other WIDTHxHEIGHT may be typed in."""


def counted(n: int, noun: str, many: str | None = None) -> str:
    """``1 batch``, ``12,000 requests``: a count with thousands separators and its noun."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"


def usd(value: float) -> str:
    """Dollars with cents; a job too cheap for cents keeps four digits."""
    return f"${value:,.2f}" if value >= 0.1 else f"${value:.4f}"


def plan_lines(summary: PlanSummary) -> list[str]:
    """The plan in three lines: its size, its tokens, its cost against standard prices."""
    size = (
        f"{counted(summary.requests, 'request')} in {counted(summary.batches, 'batch', 'batches')}"
    )
    tokens = f"about {format_tokens(summary.estimated_tokens)} input tokens, estimated"
    if summary.batch_usd is None:
        cost = "Estimated cost: unknown (no published price for this model)"
    else:
        cost = f"Estimated cost: {usd(summary.batch_usd)} with the Batch API"
        if summary.saving_usd:
            cost += f" (saves {usd(summary.saving_usd)} against standard prices)"
    return [size, tokens, cost]


def chosen_size(text: str) -> tuple[int, int] | None:
    """The size a person picked or typed: None for unknown (or nothing), else (w, h).

    Raises ValueError, saying what a size looks like, for anything else.
    """
    return parse_optional_image_size(text)


def size_line(model: str, size: tuple[int, int] | None) -> str:
    """The image size the plan assumes, and what one image then costs in tokens."""
    tokens = image_tokens(model, None, size)
    if size is None:
        return f"Image sizes unknown: each counted at the costliest, {tokens:,} tokens"
    return f"Images counted at {size[0]} x {size[1]}: {tokens:,} tokens each"


def batches_within(batches: Sequence[PlannedBatch], max_cost: float | None) -> int:
    """How many batches, in order, the budget lets the queue submit (all without one).

    A batch whose cost is unknown counts as free: it cannot be held against the budget.
    """
    if max_cost is None:
        return len(batches)
    spent = accumulate(b.cost.batch_usd or 0.0 for b in batches)
    return sum(1 for total in spent if total <= max_cost + 1e-9)


def budget_line(batches: Sequence[PlannedBatch], max_cost: float | None) -> str:
    """What the budget field means for this plan, said before anything is submitted."""
    if max_cost is None:
        return "No budget: every batch is submitted as the queue has room."
    fits = batches_within(batches, max_cost)
    if fits >= len(batches):
        return f"The whole plan fits within {usd(max_cost)}."
    assets = sum(b.request_count for b in batches[:fits])
    return (
        f"Within {usd(max_cost)}: {fits} of {counted(len(batches), 'batch', 'batches')} "
        f"({assets:,} assets); submitting stops there."
    )
