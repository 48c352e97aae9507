"""Build real :class:`openai.types.Batch` snapshots for core tests."""

from __future__ import annotations

from typing import Any

from openai.types import Batch

T0 = 1_760_000_000
"""A fixed creation time, so every timestamp in a test is readable as T0 + offset."""


def make_batch(
    status: str = "validating",
    *,
    completed: int = 0,
    failed: int = 0,
    total: int = 0,
    batch_id: str = "batch_1",
    **fields: Any,
) -> Batch:
    """A batch as OpenAI would return it, validated by the SDK's own model."""
    data: dict[str, Any] = {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "completion_window": "24h",
        "created_at": T0,
        "status": status,
        "request_counts": {"completed": completed, "failed": failed, "total": total},
    }
    data.update(fields)
    return Batch.model_validate(data)
