"""Output and error lines in OpenAI's batch file format.

Each line is `{id, custom_id, response{status_code, request_id, body}, error}`. A success
carries a realistic `chat.completion` or `response` object whose message content is the
JSON object `{"tags": [...]}` from rules.predicted_tags, so tests can predict every line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .models import snapshot_of
from .rules import predicted_tags, stable_fraction
from .validation import InputRequest

CHAT_COMPLETIONS = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"
COMPLETIONS = "/v1/completions"
MODERATIONS = "/v1/moderations"
SUPPORTED_ENDPOINTS = (CHAT_COMPLETIONS, RESPONSES, EMBEDDINGS, COMPLETIONS, MODERATIONS)
_EMBEDDING_SIZE = 8
_MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_TOKENS = 85


def _hex(*parts: str, n: int = 32) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:n]


def image_url_of(body: dict[str, Any]) -> str:
    """The first image URL in a chat-completions or responses request body ("" if none)."""
    for message in body.get("messages") or body.get("input") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                if isinstance(url, str):
                    return url
            if part.get("type") == "input_image" and isinstance(part.get("image_url"), str):
                return str(part["image_url"])
    return ""


def token_counts(request: InputRequest) -> tuple[int, int]:
    """(input, output) tokens a successful request uses: cheap, stable estimates."""
    output_tokens = 12 + int(stable_fraction("tokens", request.custom_id) * 20)
    return request.size // 4 + _IMAGE_TOKENS, output_tokens


@dataclass(frozen=True)
class Answer:
    """The simulated result of one request: its line and the tokens it used."""

    custom_id: str
    ok: bool
    line: dict[str, Any]
    input_tokens: int
    output_tokens: int


REQUEST_FAILURES: dict[str, tuple[int, dict[str, Any]]] = {
    # What OpenAI writes in a batch's error file for a request that failed, by kind.
    "invalid_image_url": (
        400,
        {
            "message": "The image at the given URL could not be downloaded or decoded.",
            "type": "invalid_request_error",
            "param": "url",
            "code": "invalid_image_url",
        },
    ),
    "rate_limit_exceeded": (
        429,
        {
            "message": "Rate limit reached for requests. Please try again later.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        },
    ),
    "server_error": (
        500,
        {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    ),
}
"""Scripted per-request failures (``sim_fail_code``): a bad image is permanent, a rate
limit or a server error inside a batch is worth a retry."""


def answer(
    batch_id: str,
    endpoint: str,
    request: InputRequest,
    created: int,
    fail: bool,
    fail_code: str = "invalid_image_url",
) -> Answer:
    """Answer one request: a 200 with tags, or (scripted) an error line of ``fail_code``."""
    rid = _hex("request", batch_id, request.custom_id)
    line_id = "batch_req_" + _hex("line", batch_id, request.custom_id)
    model = snapshot_of(str(request.body["model"])) or str(request.body["model"])
    if fail:
        status, error = REQUEST_FAILURES[fail_code]
        line = _line(line_id, request.custom_id, status, rid, {"error": dict(error)})
        return Answer(request.custom_id, False, line, 0, 0)
    content = json.dumps({"tags": predicted_tags(image_url_of(request.body))})
    input_tokens, output_tokens = token_counts(request)
    if endpoint == RESPONSES:
        body = _response_body(rid, model, created, content, input_tokens, output_tokens)
    elif endpoint == EMBEDDINGS:
        body = _embedding_body(rid, model, request.body, input_tokens)
    elif endpoint == COMPLETIONS:
        body = _completion_body(rid, model, created, content, input_tokens, output_tokens)
    elif endpoint == MODERATIONS:
        body = _moderation_body(rid, model, request.body)
    else:
        body = chat_body(rid, model, created, content, input_tokens, output_tokens)
    line = _line(line_id, request.custom_id, 200, rid, body)
    return Answer(request.custom_id, True, line, input_tokens, output_tokens)


def unfinished_line(batch_id: str, custom_id: str, code: str) -> dict[str, Any]:
    """The error line for a request never run: code `batch_expired` or `batch_cancelled`."""
    reason = "the completion window expired" if code == "batch_expired" else "it was cancelled"
    return {
        "id": "batch_req_" + _hex("line", batch_id, custom_id),
        "custom_id": custom_id,
        "response": None,
        "error": {
            "code": code,
            "message": f"This request could not be executed before {reason}.",
        },
    }


def _line(
    line_id: str, custom_id: str, status: int, rid: str, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": line_id,
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": rid, "body": body},
        "error": None,
    }


def chat_body(
    rid: str, model: str, created: int, content: str, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + rid[:29],
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_" + rid[:10],
    }


def _response_body(
    rid: str, model: str, created: int, content: str, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    return {
        "id": "resp_" + rid,
        "object": "response",
        "created_at": created,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": [
            {
                "id": "msg_" + rid,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": content, "annotations": [], "logprobs": []}
                ],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": None,
        "metadata": {},
    }


def _inputs(body: dict[str, Any]) -> list[Any]:
    value = body.get("input")
    return value if isinstance(value, list) and value else [value]


def _embedding_body(
    rid: str, model: str, request: dict[str, Any], input_tokens: int
) -> dict[str, Any]:
    """A `list` of embeddings, one per input, with small vectors fixed by the input."""
    data = []
    for index, item in enumerate(_inputs(request)):
        vector = [
            round(stable_fraction("embedding", rid, str(index), str(item), str(i)) * 2 - 1, 6)
            for i in range(_EMBEDDING_SIZE)
        ]
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": input_tokens, "total_tokens": input_tokens},
    }


def _completion_body(
    rid: str, model: str, created: int, content: str, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    """A legacy `text_completion`: the chat answer's frame with text choices."""
    body = chat_body(rid, model, created, content, input_tokens, output_tokens)
    counts = ("prompt_tokens", "completion_tokens", "total_tokens")
    body.update(
        id="cmpl-" + rid[:29],
        object="text_completion",
        choices=[{"text": content, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        usage={name: body["usage"][name] for name in counts},
    )
    del body["service_tier"]
    return body


def _moderation_body(rid: str, model: str, request: dict[str, Any]) -> dict[str, Any]:
    """Nothing flagged: every category false, with low scores fixed by the input."""
    results = []
    for item in _inputs(request):
        scores = {
            name: round(stable_fraction("moderation", str(item), name) / 1000, 8)
            for name in _MODERATION_CATEGORIES
        }
        results.append(
            {
                "flagged": False,
                "categories": dict.fromkeys(_MODERATION_CATEGORIES, False),
                "category_scores": scores,
                "category_applied_input_types": {name: ["text"] for name in _MODERATION_CATEGORIES},
            }
        )
    return {"id": "modr-" + rid[:29], "model": model, "results": results}
