"""ResultParser: every output/error line becomes an outcome with a reason, never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmon.core import results
from batchmon.core.requests import TAGS_RESPONSE_FORMAT
from batchmon.core.results import LineOutcome, ResultParser, normalise_tags
from tests.core.lines import (
    chat_body,
    error_line,
    output_line,
    output_text,
    responses_body,
    tags_json,
)
from tests.reliability.strategies import raw_lines

TAGS_VALIDATOR = jsonschema.Draft202012Validator(TAGS_RESPONSE_FORMAT["json_schema"]["schema"])


def feed_one(line: bytes | str, known: set[str] | None = None) -> LineOutcome:
    return ResultParser(known).feed(line, 1)


def test_chat_completion_line_gives_normalised_tags() -> None:
    line = output_line("asset-1", chat_body(tags_json(" Cat ", "sofa", "cat", "", "Indoor")))
    assert ResultParser({"asset-1"}).feed(line, 7) == LineOutcome(
        line_no=7, custom_id="asset-1", ok=True, tags=["cat", "sofa", "indoor"]
    )


def test_responses_api_line_joins_output_text_parts() -> None:
    body = responses_body([output_text('{"tags": ["beach",'), output_text(' "Sunset"]}')])
    result = feed_one(output_line("asset-2", body))
    assert (result.ok, result.custom_id, result.tags) == (True, "asset-2", ["beach", "sunset"])


def test_str_input_without_newline_is_accepted() -> None:
    line = output_line("a", chat_body(tags_json("x"))).decode().rstrip("\n")
    assert feed_one(line).tags == ["x"]


def test_empty_tag_list_is_a_valid_answer() -> None:
    result = feed_one(output_line("a", chat_body(tags_json())))
    assert result.ok and result.tags == []


@pytest.mark.parametrize(
    ("line", "code", "reason_part"),
    [
        (b"", "empty_line", "empty line"),
        (b"  \r\n", "empty_line", "empty line"),
        (b'{"id": "x", "custom_id": ', "malformed_line", "not valid JSON"),
        (b"[1, 2]", "malformed_line", "not an object"),
        (b"null", "malformed_line", "not an object"),
    ],
)
def test_unreadable_lines_name_no_asset(line: bytes, code: str, reason_part: str) -> None:
    result = feed_one(line)
    assert (result.ok, result.custom_id, result.tags, result.error_code) == (
        False,
        None,
        None,
        code,
    )
    assert result.reason is not None and reason_part in result.reason


def test_missing_custom_id() -> None:
    result = feed_one(output_line(None, chat_body(tags_json("x"))))
    assert (result.ok, result.custom_id, result.error_code) == (False, None, "missing_custom_id")


def test_truncated_last_line_still_names_its_asset() -> None:
    full = output_line("asset-9", chat_body(tags_json("dog")))
    result = feed_one(full[: len(full) // 2], known={"asset-9"})
    assert (result.ok, result.custom_id, result.error_code) == (False, "asset-9", "malformed_line")
    assert result.reason is not None and "truncated" in result.reason


def test_truncated_line_with_an_unknown_id_names_nothing() -> None:
    full = output_line("stranger", chat_body(tags_json("dog")))
    result = feed_one(full[:60], known={"asset-9"})
    assert (result.custom_id, result.error_code) == (None, "malformed_line")


def test_invalid_utf8_fails_the_line_but_keeps_its_asset() -> None:
    good = output_line("asset-3", chat_body(tags_json("cafMARK")))
    broken = good.replace(b"MARK", b"\xe9")  # Latin-1 where UTF-8 belongs
    assert b"\xe9" in broken
    result = feed_one(broken, known={"asset-3"})
    assert (result.ok, result.custom_id, result.error_code) == (False, "asset-3", "invalid_utf8")
    assert result.reason is not None and "UTF-8" in result.reason


def test_invalid_utf8_in_broken_json_is_reported_as_bad_bytes() -> None:
    result = feed_one(b'{"custom_id": "a", "x": "\xff')
    assert (result.custom_id, result.error_code) == ("a", "invalid_utf8")


def test_unknown_custom_id_is_rejected_only_when_ids_are_known() -> None:
    line = output_line("intruder", chat_body(tags_json("x")))
    rejected = feed_one(line, known={"asset-1"})
    assert (rejected.ok, rejected.custom_id, rejected.error_code) == (
        False,
        "intruder",
        "unknown_custom_id",
    )
    assert feed_one(line).ok


def test_second_line_for_an_id_is_a_duplicate_and_the_first_stands() -> None:
    parser = ResultParser()
    first = parser.feed(output_line("a", chat_body(tags_json("one"))), 1)
    second = parser.feed(error_line("a", "server_error", "boom"), 2)
    assert first.ok and first.tags == ["one"]
    assert (second.ok, second.custom_id, second.error_code) == (False, "a", "duplicate_custom_id")
    assert second.reason is not None and "duplicate custom_id" in second.reason
    assert parser.seen_ids == {"a"}


@pytest.mark.parametrize(
    ("content", "code", "reason"),
    [
        ("Sure! Tags: cat, dog", "non_json_content", "not JSON"),
        ('["cat", "dog"]', "invalid_tags", '"tags" list'),
        ('{"labels": ["cat"]}', "invalid_tags", '"tags" list'),
        ('{"tags": "cat, dog"}', "invalid_tags", "tags must be a list of strings"),
        ('{"tags": ["cat", 3]}', "invalid_tags", "tags must be a list of strings"),
        ('{"tags": [null]}', "invalid_tags", "tags must be a list of strings"),
        ("   ", "no_content", "no text"),
    ],
)
def test_bad_model_replies_fail_with_a_reason(content: str, code: str, reason: str) -> None:
    result = feed_one(output_line("a", chat_body(content)))
    assert (result.ok, result.custom_id, result.error_code) == (False, "a", code)
    assert result.reason is not None and reason in result.reason


def test_chat_refusal() -> None:
    result = feed_one(output_line("a", chat_body(None, refusal="I can't help with that.")))
    assert (result.ok, result.error_code) == (False, "refusal")
    assert result.reason == "The model refused: I can't help with that."


def test_chat_truncated_by_token_limit() -> None:
    result = feed_one(output_line("a", chat_body('{"tags": ["ca', finish_reason="length")))
    assert (result.ok, result.error_code) == (False, "truncated_output")
    assert result.reason is not None and "token limit" in result.reason


def test_chat_content_filter() -> None:
    result = feed_one(output_line("a", chat_body(None, finish_reason="content_filter")))
    assert result.error_code == "content_filter"


def test_responses_refusal() -> None:
    body = responses_body([{"type": "refusal", "refusal": "No."}])
    result = feed_one(output_line("a", body))
    assert (result.ok, result.error_code, result.reason) == (
        False,
        "refusal",
        "The model refused: No.",
    )


def test_responses_incomplete_by_token_limit() -> None:
    body = responses_body(
        [output_text('{"tags": [')], status="incomplete", incomplete_reason="max_output_tokens"
    )
    assert feed_one(output_line("a", body)).error_code == "truncated_output"


def test_responses_without_message_text() -> None:
    assert feed_one(output_line("a", responses_body([]))).error_code == "no_content"


def test_error_file_line_carries_the_apis_code_and_message() -> None:
    message = "This request could not be executed before the completion window expired."
    result = feed_one(error_line("asset-5", "batch_expired", message))
    assert result == LineOutcome(1, "asset-5", False, None, "batch_expired", message)


def test_error_line_without_code_is_request_failed() -> None:
    line = json.dumps({"id": "r", "custom_id": "a", "response": None, "error": {"message": "x"}})
    assert feed_one(line).error_code == "request_failed"


def test_http_error_response_reports_status_and_message() -> None:
    body = {
        "error": {
            "message": "Invalid image URL.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "invalid_image_url",
        }
    }
    result = feed_one(output_line("a", body, status_code=400))
    assert (result.ok, result.error_code) == (False, "invalid_image_url")
    assert result.reason == "The request failed with HTTP 400: Invalid image URL."


def test_http_error_without_code_falls_back_to_type_or_request_failed() -> None:
    typed = {"error": {"message": "slow down", "type": "Rate Limit", "code": None}}
    assert feed_one(output_line("a", typed, status_code=429)).error_code == "rate_limit"
    bare = feed_one(output_line("a", {}, status_code=500))
    assert (bare.error_code, bare.reason) == ("request_failed", "The request failed with HTTP 500.")


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"id": "r", "custom_id": "a", "response": None, "error": None}, "malformed_line"),
        (
            {"id": "r", "custom_id": "a", "response": {"status_code": 200, "body": None}},
            "malformed_line",
        ),
        (
            {"id": "r", "custom_id": "a", "response": {"status_code": 200, "body": {"x": 1}}},
            "unknown_body",
        ),
        (
            {
                "id": "r",
                "custom_id": "a",
                "response": {"status_code": 200, "body": {"choices": []}},
            },
            "no_content",
        ),
    ],
)
def test_structurally_wrong_lines(record: dict[str, object], code: str) -> None:
    result = feed_one(json.dumps(record))
    assert (result.ok, result.custom_id, result.error_code) == (False, "a", code)
    assert result.reason


def test_a_whole_file_with_mixed_lines_reports_every_line() -> None:
    known = {f"asset-{i}" for i in range(6)}
    lines = [
        output_line("asset-0", chat_body(tags_json("a"))),
        b"\n",
        output_line("asset-1", chat_body("not json")),
        error_line("asset-2", "server_error", "The server had an error."),
        output_line("asset-0", chat_body(tags_json("again"))),
        output_line("asset-77", chat_body(tags_json("x"))),
        output_line("asset-3", chat_body(tags_json("b")))[:100],
    ]
    parser = ResultParser(known)
    results = [parser.feed(line, n) for n, line in enumerate(lines, start=1)]
    assert [r.line_no for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [(r.custom_id, r.ok, r.error_code) for r in results] == [
        ("asset-0", True, None),
        (None, False, "empty_line"),
        ("asset-1", False, "non_json_content"),
        ("asset-2", False, "server_error"),
        ("asset-0", False, "duplicate_custom_id"),
        ("asset-77", False, "unknown_custom_id"),
        ("asset-3", False, "malformed_line"),
    ]
    # Assets 4 and 5 had no line at all: the caller marks them "no result returned".
    assert known - parser.seen_ids == {"asset-4", "asset-5"}


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = ResultParser({"a"}).feed(raw, 3)
    assert result.line_no == 3
    assert result.ok == (result.error_code is None) == (result.reason is None)


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "custom_id",
                        "response",
                        "error",
                        "body",
                        "status_code",
                        "choices",
                        "message",
                        "content",
                        "output",
                        "type",
                        "text",
                        "code",
                        "message",
                        "tags",
                        "refusal",
                    ]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_structures_never_raise(value: object) -> None:
    result = ResultParser().feed(json.dumps(value), 1)
    assert isinstance(result, LineOutcome)
    assert result.ok == (result.tags is not None)


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(st.lists(st.text(max_size=20), max_size=15))
def test_any_reply_valid_under_the_requested_schema_is_accepted(tags: list[str]) -> None:
    content = json.dumps({"tags": tags})
    TAGS_VALIDATOR.validate(json.loads(content))
    result = feed_one(output_line("a", chat_body(content)))
    assert result.ok
    assert result.tags == normalise_tags(tags)


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(st.lists(st.text(max_size=20), max_size=15))
def test_normalised_tags_are_clean_unique_and_ordered(tags: list[str]) -> None:
    result = normalise_tags(tags)
    assert len(result) == len(set(result))
    assert all(t and t == t.strip().lower() for t in result)
    cleaned = [t.strip().lower() for t in tags if t.strip()]
    assert result == list(dict.fromkeys(cleaned))


class _FullChecksOnly(ResultParser):
    """The parser with its fast path for well-formed chat lines turned off."""

    def _feed(self, raw: bytes | str, line_no: int) -> LineOutcome:
        return self._general(raw, line_no)


# The fast path parses with orjson when it is installed, else with json: check both.
FAST_LOADERS: list[Callable[[bytes | str], Any]] = [results._stdlib_loads]
if results._fast_loads is not results._stdlib_loads:
    FAST_LOADERS.append(results._fast_loads)


def _both(lines: list[bytes | str], known: set[str] | None) -> tuple[list, list]:
    """Outcomes with the fast path on (each fast parser) and off; returns the last pair."""
    installed = results._fast_loads
    try:
        for loads in FAST_LOADERS:
            results._fast_loads = loads
            fast, full = ResultParser(known), _FullChecksOnly(known)
            got = [fast.feed(raw, n) for n, raw in enumerate(lines, start=1)]
            want = [full.feed(raw, n) for n, raw in enumerate(lines, start=1)]
            assert got == want, loads
            assert fast.seen_ids == full.seen_ids
    finally:
        results._fast_loads = installed
    return got, want


@settings(deadline=None, max_examples=300)  # timing on a shared CI runner is not under test
@given(st.lists(raw_lines(), max_size=12), st.booleans())
def test_the_fast_path_gives_every_line_the_outcome_of_the_full_checks(
    lines: list[bytes], known: bool
) -> None:
    got, want = _both(list(lines), {"a1", "a2", "a3"} if known else None)
    assert got == want


_MISSING = object()
_ODD_VALUES = [
    _MISSING, None, "", " ", "refused", "stop", "length", "content_filter", 200, 200.0, "200",
    500, True, [], {}, ["x"], {"code": "server_error"}, '{"tags": ["x"]}', "not json",
]  # fmt: skip
_PATH_TO_TAGS = [
    ("error",),
    ("custom_id",),
    ("response", "status_code"),
    ("response", "body"),
    ("response", "body", "choices"),
    ("response", "body", "choices", 0, "message"),
    ("response", "body", "choices", 0, "finish_reason"),
    ("response", "body", "choices", 0, "message", "refusal"),
    ("response", "body", "choices", 0, "message", "content"),
]


def _with_field(path: tuple[str | int, ...], value: object) -> bytes:
    """A well-formed chat line with one field on the way to the tags replaced or removed."""
    record = json.loads(output_line("a1", chat_body(tags_json("Cat", "dog"))))
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    if value is _MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(record).encode()


@pytest.mark.parametrize("known", [None, {"a1"}])
def test_a_line_with_any_one_field_off_gets_the_outcome_of_the_full_checks(
    known: set[str] | None,
) -> None:
    for path in _PATH_TO_TAGS:
        for value in _ODD_VALUES:
            line = _with_field(path, value)
            got, want = _both([line], known)
            assert got == want, (path, value)


@settings(deadline=None)  # timing on a shared CI runner is not under test
@given(
    st.lists(st.text(max_size=12), max_size=6),
    st.sampled_from(["", " ", "\t", "\r", "\n ", "\x1c", "\u2028", "\x0c", "\ufeff"]),
    st.sampled_from(["", " ", "\t", "\r", " \n", "\x1c", "\u2028", "\x0b", "x"]),
    st.booleans(),
)
def test_well_formed_lines_with_odd_surroundings_match_the_full_checks(
    tags: list[str], before: str, after: str, as_bytes: bool
) -> None:
    text = before + output_line("a1", chat_body(tags_json(*tags))).decode() + after
    line: bytes | str = text.encode() if as_bytes else text
    got, want = _both([line, line], None)
    assert got == want
    assert got[1].error_code in ("duplicate_custom_id", "malformed_line", "empty_line")


def test_the_fast_path_leaves_replies_it_does_not_expect_to_the_full_checks() -> None:
    lines: list[bytes | str] = [
        output_line("a1", chat_body(tags_json("Cat", " dog ", "cat", ""))),
        output_line("a2", chat_body('{"tags": ["cat", 3]}')),
        output_line("a3", chat_body('{"tags": ["x"]} trailing')),
        output_line("a4", chat_body(' {"tags": ["x"]}\n')),
        output_line("a5", chat_body('{"labels": ["x"]}')),
        output_line("a6", chat_body('["x"]')),
        bytearray(output_line("a7", chat_body(tags_json("x")))),  # type: ignore[list-item]
    ]
    got, want = _both(lines, None)
    assert got == want
    assert [o.ok for o in got] == [True, False, False, True, False, False, True]
    assert got[0].tags == ["cat", "dog"]
