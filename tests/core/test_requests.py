"""Request lines: exactly what the SDK's own parameter types accept, one compact line each."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import completion_create_params
from openai.types.responses import response_create_params
from pydantic import TypeAdapter

from batchmon.core.requests import (
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    TAGS_RESPONSE_FORMAT,
    build_tag_request,
    to_jsonl,
)

CHAT_PARAMS = TypeAdapter(completion_create_params.CompletionCreateParamsNonStreaming)
RESPONSES_PARAMS = TypeAdapter(response_create_params.ResponseCreateParamsNonStreaming)
URL = "https://cdn.example.com/assets/42.jpg"


def materialise(value: Any) -> Any:
    """Walk a validated TypedDict so pydantic checks its lazily validated iterables too."""
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, Iterable):
        return [materialise(v) for v in value]
    return value


def test_chat_request_is_a_valid_chat_completions_call() -> None:
    line = build_tag_request("asset-42", URL)
    assert (line["custom_id"], line["method"], line["url"]) == (
        "asset-42",
        "POST",
        "/v1/chat/completions",
    )
    body = materialise(CHAT_PARAMS.validate_python(line["body"]))
    assert body["model"] == DEFAULT_MODEL
    system, user = body["messages"]
    assert system == {"role": "system", "content": DEFAULT_PROMPT}
    assert user["role"] == "user"
    assert [p["type"] for p in user["content"]] == ["text", "image_url"]
    assert user["content"][1]["image_url"] == {"url": URL}
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "image_tags"
    assert fmt["json_schema"]["strict"] is True


def test_responses_request_is_a_valid_responses_call() -> None:
    line = build_tag_request("asset-42", URL, endpoint="/v1/responses", model="gpt-4.1-mini")
    assert line["url"] == "/v1/responses"
    body = materialise(RESPONSES_PARAMS.validate_python(line["body"]))
    assert body["model"] == "gpt-4.1-mini"
    user = body["input"][-1]
    assert [p["type"] for p in user["content"]] == ["input_text", "input_image"]
    assert user["content"][1]["image_url"] == URL
    assert body["text"]["format"]["name"] == "image_tags"
    assert body["text"]["format"]["strict"] is True
    assert body["text"]["format"]["schema"] == TAGS_RESPONSE_FORMAT["json_schema"]["schema"]


def test_both_endpoints_ask_the_same_conversation() -> None:
    chat = build_tag_request("a", URL, prompt="Only colours.")["body"]["messages"]
    responses = build_tag_request("a", URL, endpoint="/v1/responses", prompt="Only colours.")
    system, user = responses["body"]["input"]
    assert system == chat[0] == {"role": "system", "content": "Only colours."}
    assert user["role"] == chat[1]["role"] == "user"
    assert user["content"][0]["text"] == chat[1]["content"][0]["text"]


def test_custom_prompt_is_used() -> None:
    line = build_tag_request("a", URL, prompt="Only colours.")
    assert line["body"]["messages"][0]["content"] == "Only colours."


def test_strict_schema_demands_exactly_a_tags_list() -> None:
    schema = TAGS_RESPONSE_FORMAT["json_schema"]["schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"tags": ["cat"]}, schema)
    for bad in ({}, {"tags": "cat"}, {"tags": [1]}, {"tags": [], "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_requests_do_not_share_mutable_state() -> None:
    first = build_tag_request("a", URL)
    first["body"]["response_format"]["json_schema"]["schema"]["required"].append("oops")
    assert build_tag_request("b", URL)["body"]["response_format"] == TAGS_RESPONSE_FORMAT
    assert TAGS_RESPONSE_FORMAT["json_schema"]["schema"]["required"] == ["tags"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"custom_id": "", "image_url": URL}, "custom_id"),
        ({"custom_id": "a", "image_url": " "}, "no image URL"),
        ({"custom_id": "a", "image_url": URL, "model": ""}, "model"),
        ({"custom_id": "a", "image_url": URL, "endpoint": "/v1/embeddings"}, "unsupported"),
    ],
)
def test_bad_input_is_refused_before_upload(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_tag_request(**kwargs)


def test_to_jsonl_is_one_compact_newline_terminated_line_per_request() -> None:
    requests = [build_tag_request(f"asset-{i}", f"{URL}?v={i}") for i in range(3)]
    data = to_jsonl(requests)
    assert data.endswith(b"\n")
    lines = data.split(b"\n")[:-1]
    assert len(lines) == 3
    assert [json.loads(line) for line in lines] == requests
    assert b", " not in lines[0].split(b'"content":')[0]  # compact separators
    assert to_jsonl([]) == b""


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=5, unique=True))
def test_any_ids_and_urls_survive_the_round_trip(ids: list[str]) -> None:
    requests = [build_tag_request(i, f"https://x.example/{i}", prompt=i) for i in ids]
    data = to_jsonl(requests)
    assert data.count(b"\n") == len(ids)
    assert [json.loads(line) for line in data.splitlines()] == requests
