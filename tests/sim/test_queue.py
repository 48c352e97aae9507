"""token_limit_exceeded: a per-model queue of enqueued prompt tokens over in-progress batches.

The recorded real message (a user's report in the OpenAI community thread "GPT-4o reached
enqueued token limit with a small batch job"): "Enqueued token limit reached for gpt-4o
in organization XYZ. Limit: 90,000 enqueued tokens. Please try again once some in_progress
batches have been completed." The error's shape, with line and param null, as Azure's
OpenAI Batch API reports it: {"code": "token_limit_exceeded", "message": ..., "line": null,
"param": null}.
"""

from __future__ import annotations

import argparse
import json

import httpx2
import openai
import pytest

from batchmon.sim import Simulator
from batchmon.sim.queue import QueueLimits
from batchmon.sim.serve import add_arguments, build_simulator
from batchmon.sim.tokens import enqueued_tokens
from tests.fixtures.sim import SIM_API_KEY, LiveSim

from .helpers import (
    CHAT,
    batch_errors,
    image_url,
    jsonl,
    request_line,
    tagging_file,
    upload_and_create,
)

AUTH = {"Authorization": f"Bearer {SIM_API_KEY}"}
LINES = 10


def tokens_of(data: bytes, image_size: tuple[int, int] | None = None) -> int:
    bodies = (json.loads(line)["body"] for line in data.splitlines())
    return enqueued_tokens(bodies, CHAT, image_size)


def limit_for_one_and_a_half_batches(sim: Simulator) -> int:
    limit = tokens_of(tagging_file(LINES)) * 3 // 2
    sim.configure(queue={"enqueued_token_limits": {"gpt-4o-mini": limit}})
    return limit


def test_a_batch_that_does_not_fit_the_queue_fails_at_validation(simulator: Simulator) -> None:
    limit = limit_for_one_and_a_half_batches(simulator)
    first = upload_and_create(simulator, tagging_file(LINES), metadata={"sim_duration": "600"})
    simulator.advance(10)
    assert simulator.batch(first).status == "in_progress"

    second = upload_and_create(simulator, tagging_file(LINES, prefix="b-"))
    simulator.advance(5)
    batch = simulator.batch(second)
    assert batch.status == "failed"
    assert batch.failed_at == batch.created_at + 5 and batch.in_progress_at is None
    (error,) = batch_errors(batch)
    assert (error.code, error.line, error.param) == ("token_limit_exceeded", None, None)
    assert error.message == (
        "Enqueued token limit reached for gpt-4o-mini-2024-07-18 in organization "
        f"org-simulated. Limit: {limit:,} enqueued tokens. Please try again once some "
        "in_progress batches have been completed."
    )
    assert simulator.batch(first).status == "in_progress"  # the queue's holder is untouched


def test_room_returns_once_the_batch_in_progress_completes(simulator: Simulator) -> None:
    limit_for_one_and_a_half_batches(simulator)
    first = upload_and_create(simulator, tagging_file(LINES), metadata={"sim_duration": "60"})
    simulator.advance(30)
    simulator.advance(60)  # first has finished (validating 5 + 60 + finalizing 5) by now
    second = upload_and_create(simulator, tagging_file(LINES, prefix="b-"))
    simulator.advance(5)
    assert simulator.batch(first).status == "completed"
    assert simulator.batch(second).status == "in_progress"


def test_the_decision_is_made_at_the_moment_validation_ended(simulator: Simulator) -> None:
    """Looking only after both finished must not change the answer: at the second batch's
    validation the first was still in progress, so the second failed."""
    limit_for_one_and_a_half_batches(simulator)
    first = upload_and_create(simulator, tagging_file(LINES), metadata={"sim_duration": "20"})
    second = upload_and_create(simulator, tagging_file(LINES, prefix="b-"))
    simulator.advance(3600)
    second_batch = simulator.batch(second)
    assert simulator.batch(first).status == "completed"
    assert second_batch.status == "failed"
    assert batch_errors(second_batch)[0].code == "token_limit_exceeded"


def test_other_models_and_the_default_have_no_limit(simulator: Simulator) -> None:
    for i in range(5):
        upload_and_create(simulator, tagging_file(LINES, prefix=f"x{i}-"))
    simulator.advance(5)
    assert {b["status"] for b in simulator.list_batches()["data"]} == {"in_progress"}

    limit_for_one_and_a_half_batches(simulator)
    other = jsonl([request_line(f"o-{i}", image_url(i), model="gpt-4.1-mini") for i in range(3)])
    batch_id = upload_and_create(simulator, other)
    simulator.advance(5)
    assert simulator.batch(batch_id).status == "in_progress"


async def test_the_limit_is_set_over_http_and_seen_by_the_sdk(live_sim: LiveSim) -> None:
    sim = live_sim.simulator
    async with httpx2.AsyncClient(base_url=live_sim.root_url, headers=AUTH) as http:
        answer = await http.post(
            "/_sim/config",
            json={"queue": {"enqueued_token_limits": {"gpt-4o-mini-2024-07-18": 100}}},
        )
        assert answer.status_code == 200
        assert answer.json()["queue"]["enqueued_token_limits"] == {"gpt-4o-mini": 100}
        refused = await http.post("/_sim/config", json={"queue": {"limits": 1}})
        assert refused.status_code == 400
    assert sim.queue.limit_for("gpt-4o-mini") == 100

    async with openai.AsyncOpenAI(api_key=live_sim.api_key, base_url=live_sim.base_url) as sdk:
        uploaded = await sdk.files.create(file=("in.jsonl", tagging_file(LINES)), purpose="batch")
        batch = await sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        sim.advance(5)
        batch = await sdk.batches.retrieve(batch.id)
    (error,) = batch_errors(batch)
    assert batch.status == "failed" and error.code == "token_limit_exceeded"
    assert "Limit: 100 enqueued tokens." in (error.message or "")


@pytest.mark.parametrize(
    "bad",
    [
        {"enqueued_token_limits": {"gpt-nonsense": 5}},
        {"enqueued_token_limits": {"gpt-4o": -1}},
        {"enqueued_token_limits": ["gpt-4o"]},
        {"organization": ""},
    ],
)
def test_impossible_queue_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        QueueLimits.from_dict(bad)


def test_a_known_image_size_makes_the_same_batch_cheaper_in_the_queue() -> None:
    """Unknown sizes count as the costliest image; ``--image-size`` says what they are."""
    data = tagging_file(LINES)
    between = (tokens_of(data, (512, 512)) + tokens_of(data)) // 2
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    limit = ["--enqueued-token-limit", f"gpt-4o-mini={between}"]
    sized = build_simulator(parser.parse_args([*limit, "--image-size", "512x512"]))
    unsized = build_simulator(parser.parse_args(limit))
    assert sized.queue.image_size == (512, 512) and unsized.queue.image_size is None
    statuses = []
    for sim in (sized, unsized):
        batch_id = upload_and_create(sim, data)
        sim.advance(5)
        statuses.append(sim.batch(batch_id).status)
    assert statuses == ["in_progress", "failed"]
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        build_simulator(parser.parse_args(["--image-size", "big"]))
