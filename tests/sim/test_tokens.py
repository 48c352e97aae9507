"""The simulated queue counts a batch's tokens exactly as batchmon's planner estimates them.

OpenAI's own count is not published; what matters here is that planner and queue agree,
so a batch the planner says fits is never refused by the simulator, and one over the
limit always is. The per-model image rules themselves are tested in tests/core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from batchmon.core.planner import PlanLimits, plan_batches
from batchmon.core.tokens import image_tokens, request_tokens
from batchmon.sim import Simulator
from batchmon.sim.queue import QueueLimits
from batchmon.sim.tokens import enqueued_tokens

from .helpers import CHAT, RESPONSES, image_url, request_line, upload_and_create


@pytest.mark.parametrize("endpoint", [CHAT, RESPONSES])
def test_a_batch_enqueues_the_planners_estimate_of_its_lines(endpoint: str) -> None:
    bodies = [request_line(f"a{i}", image_url(i), endpoint=endpoint)["body"] for i in range(3)]
    assert enqueued_tokens(bodies, endpoint) == sum(request_tokens(b, endpoint) for b in bodies)


def test_an_image_of_unknown_size_is_the_costliest_and_a_known_size_is_used() -> None:
    body = request_line("a", image_url(1))["body"]  # gpt-4o-mini, detail left out (auto)
    text = request_tokens(body, CHAT) - image_tokens("gpt-4o-mini")
    assert image_tokens("gpt-4o-mini") == 2833 + 8 * 5667  # 768 x 2048 after scaling
    assert enqueued_tokens([body], CHAT, (512, 512)) == text + 2833 + 5667  # one tile
    assert enqueued_tokens([body], CHAT, (1024, 1024)) == text + 2833 + 4 * 5667


def test_the_organisations_image_size_is_configured_and_checked() -> None:
    limits = QueueLimits.from_dict({"image_size": [640, 480]})
    assert limits.image_size == (640, 480)
    assert limits.to_dict()["image_size"] == [640, 480]
    assert QueueLimits.from_dict({}).image_size is None
    for bad in ([640], [0, 480], ["640", 480], "640x480", [True, 2]):
        with pytest.raises(ValueError, match="image_size"):
            QueueLimits.from_dict({"image_size": bad})


def test_output_caps_are_not_counted() -> None:
    body = request_line("a", image_url(1))["body"]
    capped = {**body, "max_tokens": 100_000}
    assert enqueued_tokens([capped], CHAT) == enqueued_tokens([body], CHAT)


@pytest.mark.parametrize("image_size", [None, (512, 512)])
def test_batches_the_planner_fills_to_the_limit_are_accepted_one_at_a_time(
    simulator: Simulator, image_size: tuple[int, int] | None
) -> None:
    """A plan at the full limit (token_fraction 1) fits the queue exactly: each batch
    starts alone, and a second one beside it is refused."""
    lines = [request_line(f"a{i}", image_url(i)) for i in range(60)]
    per_line = request_tokens(lines[0]["body"], CHAT, image_size=image_size)
    limit = per_line * 20
    simulator.configure(
        queue={"enqueued_token_limits": {"gpt-4o-mini": limit}, "image_size": image_size}
    )

    def estimate(body: Mapping[str, Any], endpoint: str) -> int:
        return request_tokens(body, endpoint, image_size=image_size)

    limits = PlanLimits(token_limits={"gpt-4o-mini": limit}, token_fraction=1.0)
    first, second, *_ = plan_batches(lines, limits, estimate=estimate)
    assert first.request_count == 20 and first.estimated_tokens == limit

    running = upload_and_create(simulator, first.jsonl or b"")
    simulator.advance(5)
    assert simulator.batch(running).status == "in_progress"
    refused = upload_and_create(simulator, second.jsonl or b"")
    simulator.advance(5)
    assert simulator.batch(refused).status == "failed"
