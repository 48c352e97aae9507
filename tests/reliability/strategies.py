"""Hypothesis strategies for result lines: random bytes, random JSON, near-valid lines.

Shared by the property tests and benchmarks/fuzz_results.py (the longer fuzz run).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

custom_ids = st.sampled_from(["a1", "a2", "a3", "", "unknown"]) | st.text(max_size=6)

tags_values = st.one_of(
    st.lists(st.text(max_size=12), max_size=5), json_values, st.just(["cat", "Cat", " dog "])
)


@st.composite
def contents(draw: st.DrawFn) -> Any:
    """Model reply content: tag JSON, other JSON, prose, or not a string at all."""
    kind = draw(st.sampled_from(["tags", "json", "text", "other"]))
    if kind == "tags":
        return json.dumps({"tags": draw(tags_values)})
    if kind == "json":
        return json.dumps(draw(json_values))
    if kind == "text":
        return draw(st.text(max_size=40))
    return draw(json_values)


@st.composite
def near_valid_lines(draw: st.DrawFn) -> dict[str, Any]:
    """Lines shaped like OpenAI output with random holes, wrong types and error parts."""
    message = {"role": "assistant", "content": draw(contents())}
    if draw(st.booleans()):
        message["refusal"] = draw(st.none() | st.text(max_size=10))
    choice: Any = {"index": 0, "message": message}
    choice["finish_reason"] = draw(st.sampled_from(["stop", "length", "content_filter", None]))
    body: Any = draw(
        st.sampled_from(["chat", "responses", "junk"]).map(
            lambda k: (
                {"choices": [choice]}
                if k == "chat"
                else {
                    "object": "response",
                    "status": "completed",
                    "output": [
                        {
                            "type": "message",
                            "content": [{"type": "output_text", "text": message["content"]}],
                        }
                    ],
                }
                if k == "responses"
                else {"error": {"code": "x", "message": "y"}}
            )
        )
    )
    if draw(st.integers(0, 9)) == 0:
        body = draw(json_values)
    response: Any = {
        "status_code": draw(st.sampled_from([200, 400, 500, "200", None])),
        "body": body,
    }
    line: dict[str, Any] = {"custom_id": draw(custom_ids), "response": response, "error": None}
    if draw(st.integers(0, 4)) == 0:
        line["response"] = None
        line["error"] = draw(json_values | st.just({"code": "batch_expired", "message": "late"}))
    if draw(st.integers(0, 9)) == 0:
        line["custom_id"] = draw(json_values)
    return line


@st.composite
def raw_lines(draw: st.DrawFn) -> bytes:
    """Anything a result file's line might hold, including cut and corrupted lines."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    data = json.dumps(draw(near_valid_lines())).encode()
    if kind == 3 and data:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]
        if draw(st.booleans()) and data:
            pos = draw(st.integers(0, len(data) - 1))
            data = data[:pos] + bytes([draw(st.integers(0x80, 0xFF))]) + data[pos + 1 :]
    return data
