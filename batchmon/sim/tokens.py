"""Estimating the prompt tokens a batch request enqueues, without a tokenizer.

OpenAI limits each organisation's *enqueued prompt tokens per model* over its batches in
progress ("There are no limits for output tokens or number of submitted requests for the
Batch API today", OpenAI's Batch guide, Rate limits); `max_tokens` and
`max_output_tokens` are therefore not counted, and requested_output_tokens reports them
apart for a planner that wants a cost bound. Text is counted with OpenAI's rule of thumb
of one token per four characters, plus the chat format's few tokens per message. Images
follow OpenAI's published rule for GPT-4o-class vision: `detail: "low"` costs 85 tokens;
`high` and `auto` scale the image to fit 2048 x 2048, then its short side to 768, and cost
85 plus 170 per 512-pixel tile. An image of unknown size counts as 1024 x 1024 (765).

Everything here is pure and deterministic, so a job planner can use the same estimate the
simulator enforces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3
REPLY_PRIMER_TOKENS = 3
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
UNKNOWN_IMAGE_SIZE = (1024, 1024)


def text_tokens(text: str) -> int:
    """Tokens of a text: one per four characters, rounded up (at least one if non-empty)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def image_tokens(detail: str | None = None, size: tuple[int, int] | None = None) -> int:
    """Tokens of one image input at `detail` ("low", "high" or "auto") and pixel `size`."""
    if detail == "low":
        return IMAGE_BASE_TOKENS
    pixels_wide, pixels_high = size or UNKNOWN_IMAGE_SIZE
    if pixels_wide <= 0 or pixels_high <= 0:
        return IMAGE_BASE_TOKENS
    fit = min(1.0, 2048 / max(pixels_wide, pixels_high))
    width, height = pixels_wide * fit, pixels_high * fit
    shrink = min(1.0, 768 / min(width, height))
    width, height = width * shrink, height * shrink
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            total += text_tokens(str(part.get("text", "")))
        elif kind == "image_url":
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            total += image_tokens(detail)
        elif kind == "input_image":
            total += image_tokens(part.get("detail"))
    return total


def _messages_tokens(messages: Iterable[Any]) -> int:
    total = REPLY_PRIMER_TOKENS
    for message in messages:
        if isinstance(message, dict):
            total += TOKENS_PER_MESSAGE + _content_tokens(message.get("content"))
        elif isinstance(message, str):
            total += TOKENS_PER_MESSAGE + text_tokens(message)
    return total


def _inputs_tokens(value: Any) -> int:
    """Plain inputs (embeddings, moderations, completions): a string or a list of them."""
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        return sum(_inputs_tokens(item) for item in value if not isinstance(item, int))
    return 0


def prompt_tokens(body: dict[str, Any]) -> int:
    """Estimated prompt tokens of one request body, for any batch endpoint."""
    if isinstance(body.get("messages"), list):
        total = _messages_tokens(body["messages"])
    elif isinstance(body.get("input"), list) and any(isinstance(m, dict) for m in body["input"]):
        total = _messages_tokens(body["input"])
    elif "input" in body:
        total = _inputs_tokens(body["input"])
    else:
        total = _inputs_tokens(body.get("prompt"))
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        total += text_tokens(instructions)
    return total


def requested_output_tokens(body: dict[str, Any]) -> int | None:
    """The output cap a request asks for (`max_completion_tokens`, `max_tokens` or
    `max_output_tokens`), or None: not counted against the queue, useful for a cost bound."""
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def batch_prompt_tokens(bodies: Iterable[dict[str, Any]]) -> int:
    """Estimated prompt tokens a whole batch enqueues."""
    return sum(prompt_tokens(body) for body in bodies)
