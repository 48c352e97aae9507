"""Batch output and error lines in OpenAI's format, with bodies checked by the SDK's types."""

from __future__ import annotations

import json
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.responses import Response


def chat_body(
    content: str | None,
    *,
    refusal: str | None = None,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320},
    }
    ChatCompletion.model_validate(body)  # the fixture itself must be what OpenAI sends
    return body


def responses_body(
    parts: list[dict[str, Any]],
    *,
    status: str = "completed",
    incomplete_reason: str | None = None,
) -> dict[str, Any]:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_760_000_000,
        "status": status,
        "model": "gpt-4.1-mini",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": parts,
            },
        ],
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
    }
    Response.model_validate(body)
    return body


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def tags_json(*tags: str) -> str:
    return json.dumps({"tags": list(tags)})


def output_line(custom_id: str | None, body: dict[str, Any], status_code: int = 200) -> bytes:
    record: dict[str, Any] = {"id": "batch_req_1"}
    if custom_id is not None:
        record["custom_id"] = custom_id
    record["response"] = {"status_code": status_code, "request_id": "req_1", "body": body}
    record["error"] = None
    return json.dumps(record).encode() + b"\n"


def error_line(custom_id: str, code: str, message: str) -> bytes:
    record = {
        "id": "batch_req_2",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }
    return json.dumps(record).encode() + b"\n"
