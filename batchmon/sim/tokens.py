"""Estimating the prompt tokens a batch request enqueues, without a tokenizer.

What OpenAI counts: each organisation has a limit of *enqueued prompt tokens per model*
over its batches in progress; "There are no limits for output tokens or number of
submitted requests for the Batch API today" (OpenAI's Batch guide, Rate limits, quoted in
the community thread "Rate limits for batch API"). So `max_tokens` and
`max_output_tokens` are not counted; requested_output_tokens reports them apart for a
planner that wants a cost bound. Community measurements ("Vision model rate limit
documentation for usage estimate is wrong") found the rate limiter does not open images
at all and charges a fixed amount per image: an image of unknown size here counts as
1024 x 1024.

Text is counted with OpenAI's rule of thumb of one token per four characters, plus the
chat format's three tokens per message and three to prime the reply. Images follow
OpenAI's published rules (the vision guide's "Calculating costs"), which depend on the
model:
- tile models: `detail: "low"` costs the base; `high`/`auto` scale the image to fit
  2048 x 2048, then its short side to 768, and cost base + tile x (512 px tiles).
  gpt-4o, gpt-4.1, gpt-4-turbo: 85 + 170 per tile (1024 x 1024 -> 765; 2048 x 4096 ->
  1105); gpt-4o-mini: 2833 + 5667; o1/o3: 75 + 150; gpt-5: 70 + 140.
- patch models (gpt-4.1-mini, gpt-4.1-nano, o4-mini, gpt-5-mini, gpt-5-nano): one
  token per 32 px patch, at most 1536 patches (a larger image is scaled down to fit),
  times the model's multiplier (1.62, 2.46, 1.72, 1.62, 2.46).

Everything here is pure and deterministic, so a job planner can use the same estimate the
simulator enforces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3
REPLY_PRIMER_TOKENS = 3
UNKNOWN_IMAGE_SIZE = (1024, 1024)
PATCH = 32
MAX_PATCHES = 1536

TILE_COSTS: dict[str, tuple[int, int]] = {
    "gpt-4o": (85, 170),
    "gpt-4.1": (85, 170),
    "gpt-4-turbo": (85, 170),
    "gpt-4o-mini": (2833, 5667),
    "o1": (75, 150),
    "o3": (75, 150),
    "gpt-5": (70, 140),
}
"""(base, per 512 px tile) image tokens of tile-priced models, by undated name."""
PATCH_MULTIPLIERS: dict[str, float] = {
    "gpt-4.1-mini": 1.62,
    "gpt-4.1-nano": 2.46,
    "o4-mini": 1.72,
    "gpt-5-mini": 1.62,
    "gpt-5-nano": 2.46,
}
"""Tokens per 32 px patch of patch-priced models."""
DEFAULT_TILE_COST = TILE_COSTS["gpt-4o"]

ImageSize = Callable[[str], tuple[int, int] | None]
"""Looks up an image's pixel size by URL (None when unknown)."""


def text_tokens(text: str) -> int:
    """Tokens of a text: one per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _tile_tokens(cost: tuple[int, int], detail: str | None, width: int, height: int) -> int:
    base, per_tile = cost
    if detail == "low":
        return base
    fit = min(1.0, 2048 / max(width, height))
    scaled_w, scaled_h = width * fit, height * fit
    shrink = min(1.0, 768 / min(scaled_w, scaled_h))
    scaled_w, scaled_h = scaled_w * shrink, scaled_h * shrink
    tiles = _cover(scaled_w, 512) * _cover(scaled_h, 512)
    return base + per_tile * tiles


def _cover(length: float, step: int) -> int:
    """How many `step`-sized pieces cover `length` (tolerant of float noise)."""
    return math.ceil(length / step - 1e-9)


def _patch_tokens(multiplier: float, width: int, height: int) -> int:
    patches = _cover(width, PATCH) * _cover(height, PATCH)
    if patches > MAX_PATCHES:
        shrink = math.sqrt(PATCH * PATCH * MAX_PATCHES / (width * height))
        wide, high = width * shrink / PATCH, height * shrink / PATCH
        shrink *= min(math.floor(wide) / wide, math.floor(high) / high)
        patches = _cover(width * shrink, PATCH) * _cover(height * shrink, PATCH)
    return math.ceil(min(patches, MAX_PATCHES) * multiplier)


def image_tokens(
    detail: str | None = None, size: tuple[int, int] | None = None, model: str | None = None
) -> int:
    """Tokens of one image input at `detail` ("low", "high" or "auto") and pixel `size`,
    for `model` (an undated or dated name; unknown models are priced like gpt-4o)."""
    width, height = size or UNKNOWN_IMAGE_SIZE
    key = _family(model)
    if key in PATCH_MULTIPLIERS:
        if width <= 0 or height <= 0:
            return 0
        return _patch_tokens(PATCH_MULTIPLIERS[key], width, height)
    cost = TILE_COSTS.get(key, DEFAULT_TILE_COST)
    if width <= 0 or height <= 0:
        return cost[0]
    return _tile_tokens(cost, detail, width, height)


def _family(model: str | None) -> str:
    """The longest priced name `model` starts with (`gpt-4o-mini-2024-07-18` -> gpt-4o-mini)."""
    if not model:
        return ""
    names = [
        n for n in (*TILE_COSTS, *PATCH_MULTIPLIERS) if model == n or model.startswith(n + "-")
    ]
    return max(names, key=len, default="")


def _content_tokens(content: Any, model: str | None, size_of: ImageSize | None) -> int:
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
        elif kind in ("image_url", "input_image"):
            total += _image_part_tokens(part, model, size_of)
    return total


def _image_part_tokens(part: dict[str, Any], model: str | None, size_of: ImageSize | None) -> int:
    """A chat `image_url` part ({"url", "detail"}) or a responses `input_image` part."""
    image = part.get("image_url")
    if isinstance(image, dict):
        url, detail = image.get("url"), image.get("detail")
    else:
        url, detail = image, part.get("detail")
    size = size_of(url) if size_of is not None and isinstance(url, str) else None
    return image_tokens(detail, size, model)


def _messages_tokens(messages: Iterable[Any], model: str | None, size_of: ImageSize | None) -> int:
    total = REPLY_PRIMER_TOKENS
    for message in messages:
        if isinstance(message, dict):
            total += TOKENS_PER_MESSAGE + _content_tokens(message.get("content"), model, size_of)
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


def prompt_tokens(body: dict[str, Any], image_size: ImageSize | None = None) -> int:
    """Estimated prompt tokens of one request body, for any batch endpoint.

    `image_size` may look up an image's pixel size by URL; unknown sizes count as
    1024 x 1024.
    """
    model = body.get("model") if isinstance(body.get("model"), str) else None
    if isinstance(body.get("messages"), list):
        total = _messages_tokens(body["messages"], model, image_size)
    elif isinstance(body.get("input"), list) and any(isinstance(m, dict) for m in body["input"]):
        total = _messages_tokens(body["input"], model, image_size)
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


def batch_prompt_tokens(
    bodies: Iterable[dict[str, Any]], image_size: ImageSize | None = None
) -> int:
    """Estimated prompt tokens a whole batch enqueues."""
    return sum(prompt_tokens(body, image_size) for body in bodies)
