"""The prompt-token estimate the queue limit counts (and a job planner can share)."""

from __future__ import annotations

import pytest

from batchmon.sim.tokens import (
    image_tokens,
    prompt_tokens,
    requested_output_tokens,
    text_tokens,
)

from .helpers import RESPONSES, request_line


@pytest.mark.parametrize(
    ("detail", "size", "tokens"),
    [
        # OpenAI's vision guide: low detail is a flat 85; high detail fits 2048 x 2048, then
        # the short side to 768, and costs 85 + 170 per 512 px tile.
        ("low", (4096, 8192), 85),
        ("high", (1024, 1024), 765),  # 768 x 768: 4 tiles
        ("high", (2048, 4096), 1105),  # 1024 x 2048 -> 768 x 1536: 6 tiles
        ("auto", (512, 512), 255),  # already small: 1 tile
        (None, None, 765),  # unknown size counts as 1024 x 1024
    ],
)
def test_image_tokens_follow_openais_rule(
    detail: str | None, size: tuple[int, int] | None, tokens: int
) -> None:
    assert image_tokens(detail, size) == tokens


def test_text_is_a_token_per_four_characters() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2


def test_a_tagging_request_counts_its_text_message_and_image() -> None:
    body = request_line("a", "https://example.com/fox.jpg")["body"]
    # 3 reply primer + 3 for the message + "Tag this image." (4) + one image (765)
    assert prompt_tokens(body) == 3 + 3 + 4 + 765
    body["messages"][0]["content"][1]["image_url"]["detail"] = "low"
    assert prompt_tokens(body) == 3 + 3 + 4 + 85
    responses = request_line("a", "https://example.com/fox.jpg", endpoint=RESPONSES)["body"]
    assert prompt_tokens(responses) == 3 + 3 + 4 + 765


def test_plain_inputs_and_the_output_cap() -> None:
    assert prompt_tokens({"model": "text-embedding-3-small", "input": ["abcd", "abcdabcd"]}) == 3
    assert prompt_tokens({"model": "gpt-3.5-turbo-instruct", "prompt": "abcdabcd"}) == 2
    assert requested_output_tokens({"max_tokens": 50}) == 50
    assert requested_output_tokens({"max_output_tokens": 20}) == 20
    assert requested_output_tokens({}) is None
    # output caps are not part of the queue's count
    assert prompt_tokens({"prompt": "abcd", "max_tokens": 10_000}) == 1
