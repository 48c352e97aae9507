"""How many tokens a batch request line puts in OpenAI's per-model queue, estimated offline.

OpenAI refuses a batch (``token_limit_exceeded``) when the prompt tokens of a model's
batches in progress would pass the organisation's limit, so the planner must know each
line's share before uploading. Nothing here may download a vocabulary, and it runs on
hundreds of thousands of lines, so text is estimated (one token per four ASCII
characters, one per other character: measured against o200k_base in docs/jobs.md) and
images follow OpenAI's published tile and patch rules per model. Output caps are not
counted: the queue limits prompt tokens only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from batchmon.core.requests import CHAT_COMPLETIONS, RESPONSES

EMBEDDINGS = "/v1/embeddings"
COMPLETIONS = "/v1/completions"
MODERATIONS = "/v1/moderations"

TOKENS_PER_MESSAGE = 3
"""Chat format overhead per message (OpenAI cookbook, counting tokens with tiktoken)."""
REPLY_PRIMER_TOKENS = 3
"""Every reply is primed with a few tokens of its own."""
TOKENS_PER_NAME = 1

_CACHED_TEXT_MAX_CHARS = 4096


@dataclass(frozen=True, slots=True)
class TileRule:
    """Fit 2048 x 2048, shortest side down to 768, then ``base`` + ``per_tile`` per 512 px tile."""

    base: int
    per_tile: int


@dataclass(frozen=True, slots=True)
class PatchRule:
    """32 px patches, at most 1,536 (scaled down to fit), times a per-model multiplier."""

    multiplier: float


ImageRule = TileRule | PatchRule

MAX_PATCHES = 1536
PATCH_PX = 32
TILE_PX = 512
MAX_TILES = 8
"""The most tiles any image can need: 768 x 2048 after scaling is 2 x 4 tiles."""

IMAGE_RULES: dict[str, ImageRule] = {
    "gpt-4o-mini": TileRule(2833, 5667),
    "gpt-4o": TileRule(85, 170),
    "gpt-4.1-mini": PatchRule(1.62),
    "gpt-4.1-nano": PatchRule(2.46),
    "gpt-4.1": TileRule(85, 170),
    "gpt-4.5": TileRule(85, 170),
    "gpt-5-mini": PatchRule(1.62),
    "gpt-5-nano": PatchRule(2.46),
    "gpt-5": TileRule(70, 140),
    "o4-mini": PatchRule(1.72),
    "o1": TileRule(75, 150),
    "o3": TileRule(75, 150),
}
"""OpenAI's vision guide, "Calculating costs" (figures and sources in docs/jobs.md)."""

UNKNOWN_MODEL_RULE: ImageRule = IMAGE_RULES["gpt-4o-mini"]
"""A model not listed is costed like the costliest per image, so it never falls short."""

_RULES_LONGEST_FIRST = sorted(IMAGE_RULES.items(), key=lambda item: -len(item[0]))


def image_rule(model: str) -> ImageRule:
    """The rule for ``model``; dated snapshots (``gpt-4o-mini-2024-07-18``) share their base's."""
    name = model.strip().lower()
    for prefix, rule in _RULES_LONGEST_FIRST:
        if name == prefix or name.startswith(prefix + "-"):
            return rule
    return UNKNOWN_MODEL_RULE


def _cover(pixels: float, cell: int) -> int:
    """Cells of ``cell`` px needed to cover ``pixels``, immune to float noise (1056.0000001)."""
    return math.ceil(round(pixels, 6) / cell)


def _tiles(width: int, height: int) -> int:
    fit = min(1.0, 2048 / max(width, height))
    w, h = width * fit, height * fit
    shrink = min(1.0, 768 / min(w, h))
    return _cover(w * shrink, TILE_PX) * _cover(h * shrink, TILE_PX)


def _patches(width: int, height: int) -> int:
    patches = _cover(width, PATCH_PX) * _cover(height, PATCH_PX)
    if patches <= MAX_PATCHES:
        return patches
    shrink = math.sqrt(MAX_PATCHES * PATCH_PX * PATCH_PX / (width * height))
    across, down = width * shrink / PATCH_PX, height * shrink / PATCH_PX
    shrink *= min(math.floor(across) / across, math.floor(down) / down)
    scaled = _cover(width * shrink, PATCH_PX) * _cover(height * shrink, PATCH_PX)
    return min(scaled, MAX_PATCHES)


def image_tokens(model: str, detail: str | None = None, size: tuple[int, int] | None = None) -> int:
    """Tokens of one image for ``model`` at ``detail`` ("low", "high", "auto"; None is auto).

    ``size`` is the image's (width, height) in pixels; unknown (None or not positive)
    counts as the costliest image the rule allows, so the queue estimate never falls short.
    """
    rule = image_rule(model)
    known = size is not None and size[0] > 0 and size[1] > 0
    if isinstance(rule, PatchRule):  # detail makes no difference to patch models
        patches = _patches(*size) if known and size is not None else MAX_PATCHES
        return math.ceil(patches * rule.multiplier)
    if detail == "low":
        return rule.base
    tiles = _tiles(*size) if known and size is not None else MAX_TILES
    return rule.base + rule.per_tile * tiles


@lru_cache(maxsize=1024)
def _cached_text_tokens(text: str) -> int:
    return _uncached_text_tokens(text)


def _uncached_text_tokens(text: str) -> int:
    if text.isascii():
        return -(-len(text) // 4)
    other = sum(1 for ch in text if ch > "\x7f")
    return -(-(len(text) - other) // 4) + other


def text_tokens(text: str) -> int:
    """Estimated tokens of a text: four ASCII characters a token, any other character one.

    Prompts repeat across a job's lines, so short texts are cached.
    """
    if len(text) <= _CACHED_TEXT_MAX_CHARS:
        return _cached_text_tokens(text)
    return _uncached_text_tokens(text)


def _json_tokens(value: Any) -> int:
    """Tokens of a structure the model reads as text (schemas, tools, unknown parts)."""
    return text_tokens(json.dumps(value, separators=(",", ":"), sort_keys=True))


def _image_url_tokens(url: Any, model: str, detail: Any, size: tuple[int, int] | None) -> int:
    tokens = image_tokens(model, detail if isinstance(detail, str) else None, size)
    if isinstance(url, str) and url.startswith("data:"):
        tokens += -(-len(url) // 4)  # a limiter may count inline data by its characters
    return tokens


def _part_tokens(part: Any, model: str, size: tuple[int, int] | None) -> int:
    if isinstance(part, str):
        return text_tokens(part)
    if not isinstance(part, Mapping):
        return 0
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text") and isinstance(part.get("text"), str):
        return text_tokens(part["text"])
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, Mapping):
            return _image_url_tokens(image.get("url"), model, image.get("detail"), size)
        return _image_url_tokens(image, model, None, size)
    if kind == "input_image":
        return _image_url_tokens(part.get("image_url"), model, part.get("detail"), size)
    return _json_tokens(part)


def _content_tokens(content: Any, model: str, size: tuple[int, int] | None) -> int:
    if isinstance(content, list):
        return sum(_part_tokens(part, model, size) for part in content)
    if content is None:
        return 0
    return _part_tokens(content, model, size)


def _messages_tokens(messages: list[Any], model: str, size: tuple[int, int] | None) -> int:
    total = REPLY_PRIMER_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        if not isinstance(message, Mapping):
            total += _content_tokens(message, model, size)
            continue
        if "content" in message or "role" in message:
            total += _content_tokens(message.get("content"), model, size)
            if isinstance(message.get("name"), str):
                total += TOKENS_PER_NAME
            if message.get("tool_calls"):
                total += _json_tokens(message["tool_calls"])
        else:  # a Responses item that is not a message (function output, reasoning, ...)
            total += _json_tokens(message)
    return total


def _plain_inputs_tokens(value: Any) -> int:
    """Embeddings, completions and moderations inputs: text, lists of text, or token ids."""
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        if value and all(isinstance(item, int) for item in value):
            return len(value)  # already token ids
        return sum(_plain_inputs_tokens(item) for item in value)
    if isinstance(value, Mapping):  # a moderation's multimodal part
        return _part_tokens(value, "", None)
    return 0


def _chat_tokens(body: Mapping[str, Any], model: str, size: tuple[int, int] | None) -> int:
    messages = body.get("messages")
    total = _messages_tokens(messages, model, size) if isinstance(messages, list) else 0
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        total += _json_tokens(response_format.get("json_schema"))
    for key in ("tools", "functions"):
        if body.get(key):
            total += _json_tokens(body[key])
    return total


def _responses_tokens(body: Mapping[str, Any], model: str, size: tuple[int, int] | None) -> int:
    given = body.get("input")
    if isinstance(given, list):
        total = _messages_tokens(given, model, size)
    else:
        total = REPLY_PRIMER_TOKENS + _content_tokens(given, model, size)
    if isinstance(body.get("instructions"), str):
        total += TOKENS_PER_MESSAGE + text_tokens(body["instructions"])
    text = body.get("text")
    text_format = text.get("format") if isinstance(text, Mapping) else None
    if isinstance(text_format, Mapping) and text_format.get("type") == "json_schema":
        total += _json_tokens(text_format)
    if body.get("tools"):
        total += _json_tokens(body["tools"])
    return total


def request_tokens(
    body: Mapping[str, Any],
    endpoint: str = CHAT_COMPLETIONS,
    *,
    image_size: tuple[int, int] | None = None,
) -> int:
    """Estimated enqueued (prompt) tokens of one request line's ``body`` sent to ``endpoint``.

    ``image_size`` applies to every image in the body; None assumes the costliest image.
    An endpoint not known here is costed by the body's JSON text, which errs high.
    """
    model = body.get("model")
    name = model if isinstance(model, str) else ""
    if endpoint == CHAT_COMPLETIONS:
        return _chat_tokens(body, name, image_size)
    if endpoint == RESPONSES:
        return _responses_tokens(body, name, image_size)
    if endpoint in (EMBEDDINGS, MODERATIONS):
        return _plain_inputs_tokens(body.get("input"))
    if endpoint == COMPLETIONS:
        return _plain_inputs_tokens(body.get("prompt"))
    return _json_tokens(body)


ImageSize = tuple[int, int]
"""(width, height) in pixels."""

UNKNOWN_IMAGE_SIZE = "unknown"
"""What a person writes for "I do not know": each image then counts as the costliest."""


def format_image_size(size: ImageSize) -> str:
    """``1024x1024``: an image size as the settings file and ``--image-size`` write it."""
    return f"{size[0]}x{size[1]}"


def parse_optional_image_size(text: str) -> ImageSize | None:
    """A size as :func:`parse_image_size` reads it, or None for nothing or ``unknown``."""
    stripped = text.strip()
    if not stripped or stripped.lower() == UNKNOWN_IMAGE_SIZE:
        return None
    return parse_image_size(stripped)


def parse_image_size(text: str) -> tuple[int, int]:
    """``640x480`` as (640, 480): the size people know their images by (ValueError if not)."""
    width, sep, height = text.strip().lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) * int(height):
        raise ValueError(f"wants WIDTHxHEIGHT in pixels, e.g. 640x480; got {text!r}")
    return int(width), int(height)


def requested_output_tokens(body: Mapping[str, Any]) -> int | None:
    """The output cap a request sets (not counted by the queue; a bound for cost), or None."""
    for key in ("max_completion_tokens", "max_output_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
