"""Real ``openai.types.Batch`` objects, validated by the SDK's own model."""

from __future__ import annotations

from typing import Any

from openai.types import Batch

from batchmon.sim.lifecycle import batch_object

T0 = 1_700_000_000
"""A fixed creation time (unix seconds) so every timestamp reads as T0 + offset."""

_ENTERED = {
    "in_progress": ("in_progress_at",),
    "finalizing": ("in_progress_at", "finalizing_at"),
    "completed": ("in_progress_at", "finalizing_at", "completed_at"),
    "failed": ("failed_at",),
    "expired": ("in_progress_at", "expired_at"),
    "cancelling": ("in_progress_at", "cancelling_at"),
    "cancelled": ("in_progress_at", "cancelling_at", "cancelled_at"),
}


def batch_body(
    batch_id: str,
    status: str,
    *,
    total: int = 0,
    completed: int = 0,
    failed: int = 0,
    created_at: int = T0,
    **extra: Any,
) -> dict[str, Any]:
    """A batch as OpenAI's JSON, not validated: what ``record_statuses`` is handed."""
    counts = {"total": total, "completed": completed, "failed": failed}
    return batch_object(batch_id, status, created_at=created_at, request_counts=counts, **extra)


def make_batch(
    batch_id: str = "batch_1",
    status: str = "in_progress",
    *,
    completed: int = 0,
    failed: int = 0,
    total: int = 10,
    created_at: int = T0,
    step: int | None = 60,
    model: str | None = "gpt-4o-mini",
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> Batch:
    """A batch in ``status``; each later ``*_at`` is ``step`` seconds after the last.

    ``step=None`` sets no ``*_at`` field beyond ``created_at`` (pass them in ``extra``).
    """
    data = batch_body(
        batch_id,
        status,
        total=total,
        completed=completed,
        failed=failed,
        created_at=created_at,
        model=model,
    )
    if step is not None:
        for offset, name in enumerate(_ENTERED.get(status, ()), start=1):
            data[name] = created_at + offset * step
    if usage is not None:
        data["usage"] = {
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "total_tokens": usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    data.update(extra)
    return Batch.model_validate(data)


def bare_batch(
    status: str = "validating", *, batch_id: str = "batch_1", total: int = 0, **fields: Any
) -> Batch:
    """A batch with only the fields given: for rules that read which timestamps exist."""
    return make_batch(batch_id, status, total=total, step=None, model=None, **fields)
