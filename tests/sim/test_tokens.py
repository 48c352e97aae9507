"""The prompt-token estimate the queue limit counts (and a job planner can share)."""

from __future__ import annotations

import math

import pytest

from batchmon.sim.tokens import (
    batch_prompt_tokens,
    image_tokens,
    prompt_tokens,
    requested_output_tokens,
    text_tokens,
)

from .helpers import RESPONSES, request_line


@pytest.mark.parametrize(
    ("model", "detail", "size", "tokens"),
    [
        # OpenAI's vision guide, "Calculating costs": tile models fit 2048 x 2048, then the
        # short side to 768, and cost base + tile per 512 px square; low detail is the base.
        ("gpt-4o", "low", (4096, 8192), 85),
        ("gpt-4o", "high", (1024, 1024), 765),  # the guide's example: 4 tiles
        ("gpt-4o-2024-08-06", "high", (2048, 4096), 1105),  # the guide's example: 6 tiles
        ("gpt-4o", "auto", (512, 512), 255),  # already small: 1 tile
        ("gpt-4o", None, None, 765),  # unknown size counts as 1024 x 1024
        ("gpt-4o-mini", "low", (1024, 1024), 2833),
        ("gpt-4o-mini-2024-07-18", "high", (1024, 1024), 2833 + 4 * 5667),
        ("o3", "high", (1024, 1024), 75 + 4 * 150),
        ("gpt-5", "high", (1024, 1024), 70 + 4 * 140),
        ("unknown-model", "high", (1024, 1024), 765),
        # Patch models: 32 px patches, at most 1536; the guide's examples (1024 x 1024 ->
        # 1024 patches, 1800 x 2400 -> 1452) times the model's multiplier.
        ("gpt-4.1-mini", "high", (1024, 1024), math.ceil(1024 * 1.62)),
        ("gpt-4.1-mini-2025-04-14", None, (1800, 2400), math.ceil(1452 * 1.62)),
        ("gpt-4.1-nano", "low", (1800, 2400), math.ceil(1452 * 2.46)),
        ("o4-mini", None, (4000, 4000), math.ceil(1521 * 1.72)),
    ],
)
def test_image_tokens_follow_openais_rules(
    model: str, detail: str | None, size: tuple[int, int] | None, tokens: int
) -> None:
    assert image_tokens(detail, size, model) == tokens


def test_text_is_a_token_per_four_characters() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2


def test_a_tagging_request_counts_its_text_message_and_image() -> None:
    body = request_line("a", "https://example.com/fox.jpg", model="gpt-4o")["body"]
    # 3 reply primer + 3 for the message + "Tag this image." (4) + one image (765)
    assert prompt_tokens(body) == 3 + 3 + 4 + 765
    body["messages"][0]["content"][1]["image_url"]["detail"] = "low"
    assert prompt_tokens(body) == 3 + 3 + 4 + 85
    responses = request_line("a", "https://x/fox.jpg", endpoint=RESPONSES, model="gpt-4o")
    assert prompt_tokens(responses["body"]) == 3 + 3 + 4 + 765
    mini = request_line("a", "https://x/fox.jpg")["body"]  # gpt-4o-mini prices images high
    assert prompt_tokens(mini) == 3 + 3 + 4 + 2833 + 4 * 5667


def test_known_image_sizes_are_used() -> None:
    body = request_line("a", "https://x/fox.jpg", model="gpt-4o")["body"]
    sizes = {"https://x/fox.jpg": (2048, 4096)}
    assert prompt_tokens(body, sizes.get) == 3 + 3 + 4 + 1105
    assert batch_prompt_tokens([body, body], sizes.get) == 2 * (3 + 3 + 4 + 1105)


def test_plain_inputs_and_the_output_cap() -> None:
    assert prompt_tokens({"model": "text-embedding-3-small", "input": ["abcd", "abcdabcd"]}) == 3
    assert prompt_tokens({"model": "gpt-3.5-turbo-instruct", "prompt": "abcdabcd"}) == 2
    assert requested_output_tokens({"max_tokens": 50}) == 50
    assert requested_output_tokens({"max_output_tokens": 20}) == 20
    assert requested_output_tokens({}) is None
    # output caps are not part of the queue's count
    assert prompt_tokens({"prompt": "abcd", "max_tokens": 10_000}) == 1
