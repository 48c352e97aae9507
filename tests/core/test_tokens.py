"""Queue-token estimates: OpenAI's published image rules, and prompt text only."""

from __future__ import annotations

import pytest

from batchmon.core.requests import CHAT_COMPLETIONS, RESPONSES, build_tag_request
from batchmon.core.tokens import (
    EMBEDDINGS,
    MODERATIONS,
    image_tokens,
    request_tokens,
    requested_output_tokens,
    text_tokens,
)


@pytest.mark.parametrize(
    ("model", "detail", "size", "tokens"),
    [
        # the vision guide's own worked examples
        ("gpt-4o", "high", (1024, 1024), 765),
        ("gpt-4o", "auto", (2048, 4096), 1105),
        ("gpt-4o", "low", (4096, 8192), 85),
        ("gpt-4.1-mini", None, (1024, 1024), 1659),  # 1024 patches x 1.62, rounded up
        ("gpt-4.1-mini", None, (1800, 2400), 2353),  # scaled to 1452 patches
        ("gpt-4.1-nano", "low", (1024, 1024), 2520),  # detail does nothing on patch models
        # per-model tile figures
        ("gpt-4o-mini", "low", (640, 480), 2833),
        ("gpt-4o-mini-2024-07-18", "high", (128, 64), 2833 + 5667),
        ("gpt-5", "high", (1024, 1024), 70 + 4 * 140),
        ("o3", "high", (500, 500), 75 + 150),
        # small images are not scaled up
        ("gpt-4o", "high", (513, 500), 85 + 2 * 170),
    ],
)
def test_image_tokens_follow_openais_rule(
    model: str, detail: str | None, size: tuple[int, int], tokens: int
) -> None:
    assert image_tokens(model, detail, size) == tokens


def test_unknown_size_counts_as_the_costliest_image_so_the_queue_is_never_overrun() -> None:
    sizes = [(w, h) for w in range(64, 5000, 173) for h in range(64, 5000, 211)]
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "gpt-5"):
        worst = max(image_tokens(model, "high", size) for size in sizes)
        assert image_tokens(model, "high", None) >= worst
    assert image_tokens("gpt-4o", None, None) == 85 + 8 * 170
    assert image_tokens("gpt-4o", None, (0, 100)) == image_tokens("gpt-4o", None, None)


def test_an_unlisted_model_is_costed_like_the_costliest_listed_one() -> None:
    assert image_tokens("gpt-9-vision", "low") == image_tokens("gpt-4o-mini", "low")
    assert image_tokens("gpt-4o-mini") > image_tokens("gpt-4o")


def test_text_counts_ascii_by_four_and_other_characters_one_each() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    assert text_tokens("日本語") == 3
    assert text_tokens("x" * 10_000) == 2_500  # long texts bypass the cache, same answer


def test_output_caps_are_not_counted_against_the_queue() -> None:
    line = build_tag_request("a1", "https://img.example.test/1.jpg")
    capped = {**line["body"], "max_completion_tokens": 50_000}
    assert request_tokens(capped, CHAT_COMPLETIONS) == request_tokens(line["body"])
    assert requested_output_tokens(capped) == 50_000
    assert requested_output_tokens(line["body"]) is None
    assert requested_output_tokens({"max_tokens": True}) is None


@pytest.mark.parametrize("endpoint", [CHAT_COMPLETIONS, RESPONSES])
def test_a_tagging_line_costs_its_prompt_schema_and_one_image(endpoint: str) -> None:
    line = build_tag_request("a1", "https://img.example.test/1.jpg", endpoint=endpoint)
    body = line["body"]
    image = image_tokens("gpt-4o-mini", "auto", None)
    tokens = request_tokens(body, endpoint)
    assert image + 100 < tokens < image + 200  # prompt, user text, schema, message overhead
    known = request_tokens(body, endpoint, image_size=(640, 480))
    assert tokens - known == image - image_tokens("gpt-4o-mini", "auto", (640, 480))


def test_inline_image_data_is_also_counted_by_its_characters() -> None:
    url = "https://img.example.test/1.jpg"
    inline = "data:image/png;base64," + "A" * 40_000
    by_url = request_tokens(build_tag_request("a", url)["body"])
    by_data = request_tokens(build_tag_request("a", inline)["body"])
    assert by_data - by_url == (len(inline) + 3) // 4


def test_embeddings_and_moderations_count_their_inputs() -> None:
    assert request_tokens({"model": "text-embedding-3-small", "input": "abcdefgh"}, EMBEDDINGS) == 2
    assert request_tokens({"model": "m", "input": ["abcd", "abcd"]}, EMBEDDINGS) == 2
    assert request_tokens({"model": "m", "input": [1, 2, 3]}, EMBEDDINGS) == 3
    assert request_tokens({"model": "m", "input": [[1, 2], [3]]}, EMBEDDINGS) == 3
    assert request_tokens({"model": "omni-moderation-latest", "input": "abcd"}, MODERATIONS) == 1


def test_an_unknown_endpoint_is_costed_by_its_json_text() -> None:
    body = {"model": "m", "prompt": "x" * 400}
    assert request_tokens(body, "/v1/videos") > 100
