"""The prompt tokens a batch puts in its model's queue, counted as batchmon's planner does.

OpenAI does not publish how its queue counts (docs/jobs.md). The simulator uses
:func:`batchmon.core.tokens.request_tokens`, the estimate batchmon plans with, so a plan
that says a batch fits the simulated queue is right by construction, and what a test
or the demo measures is the queue's behaviour, not two estimates disagreeing.

The simulator never opens an image. When the organisation's images have a known size
(``QueueLimits.image_size``) every image counts at that size; otherwise each counts as
the costliest image OpenAI's rule allows, as the planner assumes without sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from batchmon.core.tokens import request_tokens


def enqueued_tokens(
    bodies: Iterable[Mapping[str, Any]], endpoint: str, image_size: tuple[int, int] | None = None
) -> int:
    """Estimated prompt tokens the request ``bodies`` of one batch to ``endpoint`` enqueue."""
    return sum(request_tokens(body, endpoint, image_size=image_size) for body in bodies)
