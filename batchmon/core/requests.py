"""Build the JSONL request lines that ask a model to tag images.

``batchmon submit`` and retry (when the original input file is gone) must produce the
very same requests, and the simulator predicts results from them, so the shape lives in
one place. Tags come back through structured output (a strict JSON schema), which is what
:mod:`batchmon.core.results` expects to parse.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

DEFAULT_MODEL = "gpt-4o-mini"
"""Cheap, vision-capable and supports strict structured output."""

DEFAULT_PROMPT = (
    "You tag images for search. Look at the image and reply with a JSON object "
    '{"tags": [...]} holding 3 to 10 short, lowercase tags for its main subjects, '
    "setting, colours and style. Use plain nouns or adjectives, no sentences."
)

CHAT_COMPLETIONS = "/v1/chat/completions"
RESPONSES = "/v1/responses"
SUPPORTED_ENDPOINTS: tuple[str, ...] = (CHAT_COMPLETIONS, RESPONSES)

_USER_TEXT = "Tag this image."

TAGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["tags"],
    "additionalProperties": False,
}
"""The reply the parser accepts: exactly ``{"tags": [str, ...]}``."""

TAGS_RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "image_tags", "strict": True, "schema": TAGS_SCHEMA},
}
"""Chat-completions ``response_format`` forcing the reply into :data:`TAGS_SCHEMA`."""

TAGS_TEXT_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "name": "image_tags",
    "strict": True,
    "schema": TAGS_SCHEMA,
}
"""The same constraint in the Responses API's ``text.format`` shape."""


def _conversation(prompt: str, *user_parts: dict[str, Any]) -> list[dict[str, Any]]:
    """The system prompt, then the user's turn: the request for tags and the image.

    Both endpoints send this conversation; only the names of the parts differ.
    """
    return [{"role": "system", "content": prompt}, {"role": "user", "content": list(user_parts)}]


def _chat_body(image_url: str, model: str, prompt: str) -> dict[str, Any]:
    text = {"type": "text", "text": _USER_TEXT}
    image = {"type": "image_url", "image_url": {"url": image_url}}
    return {
        "model": model,
        "messages": _conversation(prompt, text, image),
        "response_format": copy.deepcopy(TAGS_RESPONSE_FORMAT),
    }


def _responses_body(image_url: str, model: str, prompt: str) -> dict[str, Any]:
    text = {"type": "input_text", "text": _USER_TEXT}
    image = {"type": "input_image", "image_url": image_url, "detail": "auto"}
    return {
        "model": model,
        "input": _conversation(prompt, text, image),
        "text": {"format": copy.deepcopy(TAGS_TEXT_FORMAT)},
    }


def build_tag_request(
    custom_id: str,
    image_url: str,
    *,
    model: str = DEFAULT_MODEL,
    endpoint: str = CHAT_COMPLETIONS,
    prompt: str = DEFAULT_PROMPT,
) -> dict[str, Any]:
    """One batch input line (``custom_id``, ``method``, ``url``, ``body``) tagging one image.

    ``custom_id`` is the asset id: OpenAI returns results in any order, matched by it.
    Raises ValueError for input OpenAI would reject, before anything is uploaded.
    """
    if not isinstance(custom_id, str) or not custom_id.strip():
        raise ValueError("custom_id must be a non-empty string (use the asset id)")
    if not isinstance(image_url, str) or not image_url.strip():
        raise ValueError(f"asset {custom_id!r} has no image URL to tag")
    if not model.strip():
        raise ValueError("model must be a non-empty model name, e.g. 'gpt-4o-mini'")
    if endpoint == CHAT_COMPLETIONS:
        body = _chat_body(image_url, model, prompt)
    elif endpoint == RESPONSES:
        body = _responses_body(image_url, model, prompt)
    else:
        supported = " or ".join(SUPPORTED_ENDPOINTS)
        raise ValueError(f"unsupported endpoint {endpoint!r}: use {supported}")
    return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}


def to_jsonl(requests: Iterable[dict[str, Any]]) -> bytes:
    """Compact JSON, one request per newline-terminated line: the upload format.

    Non-ASCII is escaped, so odd text in a prompt or URL can never break the encoding.
    """
    return b"".join(json.dumps(r, separators=(",", ":")).encode("ascii") + b"\n" for r in requests)
