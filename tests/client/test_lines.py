"""JSONL line splitting over arbitrary chunk boundaries."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from batchmon.openai_batches.lines import LineSplitter


def split_all(chunks: list[bytes]) -> list[bytes]:
    splitter = LineSplitter()
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    last = splitter.finish()
    return [*lines, last] if last is not None else lines


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(
    lines=st.lists(st.binary().map(lambda b: b.replace(b"\n", b"").rstrip(b"\r")), max_size=20),
    trailing_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=30),
)
def test_lines_survive_any_chunking(
    lines: list[bytes], trailing_newline: bool, cuts: list[int]
) -> None:
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert split_all(chunked(data, cuts)) == expected


def test_crlf_endings_are_removed() -> None:
    assert split_all([b'{"a":1}\r', b'\n{"b":2}\r\n']) == [b'{"a":1}', b'{"b":2}']


def test_unicode_line_separator_inside_json_does_not_split_the_line() -> None:
    # httpx's aiter_lines() would cut here: U+2028 is a line break to str.splitlines.
    record = json.dumps({"text": "one\u2028two\x1cthree"}, ensure_ascii=False).encode()
    assert split_all([record[:5], record[5:] + b"\n"]) == [record]


def test_final_line_without_newline_is_kept() -> None:
    assert split_all([b"a\nb"]) == [b"a", b"b"]
    assert split_all([b""]) == []
