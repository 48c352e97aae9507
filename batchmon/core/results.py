"""Parse OpenAI batch output and error lines into one outcome per line.

A 50,000-line file must not stop at line 17 because one line is odd. Every way a line
can be wrong (bad bytes, broken JSON, an id we never sent, a second answer for the same
id, a model that replied with prose, a refusal, an HTTP error) becomes a
:class:`LineOutcome` with ``ok=False``, a short ``error_code`` for code and a ``reason``
sentence for a person. :meth:`ResultParser.feed` never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

_CUSTOM_ID_RE = re.compile(r'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _stdlib_loads(data: bytes | str) -> Any:
    """``json.loads``, bytes read as strict UTF-8 first (as the full checks read them)."""
    return json.loads(data.decode("utf-8") if type(data) is bytes else data)


_fast_loads: Callable[[bytes | str], Any]
try:
    import orjson
except ImportError:  # optional: the standard library gives the same outcomes, slower
    _fast_loads = _stdlib_loads
else:
    # About four times faster than json on a 1 KB line. It refuses some input json
    # accepts (NaN, lone surrogates, 1e400...); such a line simply takes the
    # full checks, which parse with json.
    _fast_loads = orjson.loads

_SNAKE_RE = re.compile(r"[^a-z0-9]+")
_EXCERPT = 80


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """What one line means for its asset.

    ``custom_id`` is None when the line names no usable id (then no asset can be
    updated from it). ``tags`` is set only when ``ok``; ``error_code`` and ``reason``
    only when not.
    """

    line_no: int
    custom_id: str | None
    ok: bool
    tags: list[str] | None = None
    error_code: str | None = None
    reason: str | None = None


class _LineError(Exception):
    """Internal: one line cannot give tags; carries the outcome's code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def normalise_tags(tags: list[str]) -> list[str]:
    """Strip, lowercase, drop empties and duplicates, keeping the model's order."""
    seen = dict.fromkeys([tag.strip().lower() for tag in tags])
    seen.pop("", None)
    return list(seen)


def _fast_chat_tags(record: dict[str, Any]) -> list[str] | None:
    """Tags from a well-formed, successful chat-completions line; None for anything else.

    Nearly every line of a real output file has exactly this shape, so it is checked
    first with a few exact type tests and one parse of the content. Whatever deviates
    (an error, a refusal, a truncated reply, odd types, a responses body) returns None
    and gets the full, reason-giving treatment of :func:`_tags_from_line`, which
    reaches the same outcome for the lines accepted here.
    """
    if record.get("error") is not None:
        return None
    response = record.get("response")
    if type(response) is not dict or response.get("status_code") != 200:
        return None
    body = response.get("body")
    if type(body) is not dict:
        return None
    choices = body.get("choices")
    if type(choices) is not list or not choices:
        return None
    choice = choices[0]
    if type(choice) is not dict:
        return None
    message = choice.get("message")
    finish = choice.get("finish_reason")
    if type(message) is not dict or (finish != "stop" and finish is not None):
        return None
    content = message.get("content")
    if type(content) is not str or message.get("refusal") is not None:
        return None
    try:
        data = _fast_loads(content)
    except (ValueError, RecursionError, TypeError):
        return None
    tags = data.get("tags") if type(data) is dict else None
    if type(tags) is not list:
        return None
    try:
        return normalise_tags(tags)
    except AttributeError:  # an element that is not a string: let the full path say so
        return None


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _snake(code: object, fallback: str) -> str:
    if not isinstance(code, str):
        return fallback
    snake = _SNAKE_RE.sub("_", code.strip().lower()).strip("_")[:64]
    return snake or fallback


def _tags_from_content(content: str) -> list[str]:
    try:
        data = json.loads(content)
    except ValueError:
        raise _LineError(
            "non_json_content", f"The model replied with text, not JSON: {_excerpt(content)!r}."
        ) from None
    if not isinstance(data, dict) or "tags" not in data:
        raise _LineError(
            "invalid_tags", 'The model\'s reply is not a JSON object with a "tags" list.'
        )
    tags = data["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _LineError("invalid_tags", "tags must be a list of strings")
    return normalise_tags(tags)


def _chat_content(body: dict[str, Any]) -> str:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _LineError("no_content", "The response has no choices to read tags from.")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        raise _LineError("refusal", f"The model refused: {_excerpt(refusal)}")
    finish = choice.get("finish_reason")
    if finish == "length":
        raise _LineError(
            "truncated_output", "The model hit its token limit before finishing its reply."
        )
    if finish == "content_filter":
        raise _LineError("content_filter", "The reply was withheld by OpenAI's content filter.")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _LineError("no_content", "The model's reply has no text content.")
    return content


def _responses_content(body: dict[str, Any]) -> str:
    if body.get("status") == "incomplete":
        details = body.get("incomplete_details")
        why = details.get("reason") if isinstance(details, dict) else None
        if why == "content_filter":
            raise _LineError("content_filter", "The reply was withheld by OpenAI's content filter.")
        raise _LineError(
            "truncated_output", "The model hit its token limit before finishing its reply."
        )
    output = body.get("output")
    if not isinstance(output, list):
        raise _LineError("no_content", "The response has no output to read tags from.")
    texts: list[str] = []
    for item in output:
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        parts = item.get("content")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                raise _LineError("refusal", f"The model refused: {_excerpt(part['refusal'])}")
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
    content = "".join(texts)
    if not content.strip():
        raise _LineError("no_content", "The model's reply has no text content.")
    return content


def _error_object(error: object, status_code: object) -> _LineError:
    """An ``error`` from the line or from a failed response body, in OpenAI's shape."""
    code: object = None
    message: object = None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = error.get("message")
    text = message.strip() if isinstance(message, str) and message.strip() else None
    if isinstance(status_code, int):
        prefix = f"The request failed with HTTP {status_code}"
        reason = f"{prefix}: {text}" if text else f"{prefix}."
    else:
        reason = text or "The request failed without an error message."
    return _LineError(_snake(code, "request_failed"), reason)


def _tags_from_line(record: dict[str, Any]) -> list[str]:
    error = record.get("error")
    response = record.get("response")
    if error is not None and not isinstance(response, dict):
        raise _error_object(error, None)
    if not isinstance(response, dict):
        raise _LineError("malformed_line", "The line has neither a response nor an error.")
    status_code = response.get("status_code")
    body = response.get("body")
    if isinstance(status_code, int) and status_code >= 400:
        raise _error_object(body.get("error") if isinstance(body, dict) else None, status_code)
    if error is not None:
        raise _error_object(error, None)
    if not isinstance(body, dict):
        raise _LineError("malformed_line", "The response has no body.")
    if "choices" in body:
        content = _chat_content(body)
    elif "output" in body or body.get("object") == "response":
        content = _responses_content(body)
    else:
        raise _LineError(
            "unknown_body", "The response body is neither a chat completion nor a response."
        )
    return _tags_from_content(content)


class ResultParser:
    """Parses one batch's output and error lines, remembering which ids it has seen.

    Feed the output file and the error file through the same parser: OpenAI puts each
    request in exactly one of them, so an id seen twice is a duplicate wherever it is.
    The first line for an id decides; later ones come back as ``duplicate_custom_id`` and
    must not overwrite it. With ``known_ids``, ids the batch never sent are rejected.
    """

    def __init__(self, known_ids: Collection[str] | None = None) -> None:
        self._known = frozenset(known_ids) if known_ids is not None else None
        self._seen: set[str] = set()

    @property
    def seen_ids(self) -> frozenset[str]:
        """Every custom_id a line has named so far (those without a line get no result)."""
        return frozenset(self._seen)

    def feed(self, raw: bytes | str, line_no: int) -> LineOutcome:
        """The outcome of one line (with or without its newline). Never raises."""
        try:
            return self._feed(raw, line_no)
        except Exception as exc:  # a parser bug must not stop the batch
            return LineOutcome(
                line_no, None, False, None, "unexpected_line", f"The line could not be read: {exc}"
            )

    def _feed(self, raw: bytes | str, line_no: int) -> LineOutcome:
        # Fast path: a valid line naming a new id with a plain successful chat reply,
        # the shape of nearly every line of a real file. Any other line, or one the fast
        # parser refuses, takes the full checks and gets their outcome and reason.
        if type(raw) is bytes or type(raw) is str:
            try:
                record = _fast_loads(raw)
            except (ValueError, RecursionError, TypeError):  # incl. UnicodeDecodeError
                record = None
            if type(record) is dict:
                custom_id = record.get("custom_id")
                if (
                    type(custom_id) is str
                    and custom_id
                    and custom_id not in self._seen
                    and (self._known is None or custom_id in self._known)
                ):
                    tags = _fast_chat_tags(record)
                    if tags is not None:
                        self._seen.add(custom_id)
                        return LineOutcome(line_no, custom_id, True, tags)
        return self._general(raw, line_no)

    def _general(self, raw: bytes | str, line_no: int) -> LineOutcome:
        bad_bytes: str | None = None
        if isinstance(raw, bytes | bytearray):
            try:
                text = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                text = bytes(raw).decode("utf-8", errors="replace")
                bad_bytes = f"The line is not valid UTF-8 (bad byte at position {exc.start})."
        else:
            text = raw
        text = text.strip()
        if not text:
            return LineOutcome(line_no, None, False, None, "empty_line", "empty line")

        record: object
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as exc:
            code = "invalid_utf8" if bad_bytes else "malformed_line"
            reason = bad_bytes or f"The line is not valid JSON (truncated or corrupted): {exc}."
            return self._failed(line_no, self._recover_id(text), code, reason)
        return self._from_record(record, line_no, bad_bytes)

    def _from_record(self, record: object, line_no: int, bad_bytes: str | None) -> LineOutcome:
        """The outcome of a line that is valid JSON, with every check and reason."""
        if not isinstance(record, dict):
            return LineOutcome(
                line_no, None, False, None, "malformed_line", "The line is JSON but not an object."
            )
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            return LineOutcome(
                line_no, None, False, None, "missing_custom_id", "The line has no custom_id."
            )
        if self._known is not None and custom_id not in self._known:
            return LineOutcome(
                line_no,
                custom_id,
                False,
                None,
                "unknown_custom_id",
                f"custom_id {custom_id!r} was not part of this batch.",
            )
        if custom_id in self._seen:
            return LineOutcome(
                line_no,
                custom_id,
                False,
                None,
                "duplicate_custom_id",
                f"duplicate custom_id: {custom_id!r} already had a result.",
            )
        self._seen.add(custom_id)
        if bad_bytes is not None:
            return LineOutcome(line_no, custom_id, False, None, "invalid_utf8", bad_bytes)
        try:
            tags = _tags_from_line(record)
        except _LineError as err:
            return LineOutcome(line_no, custom_id, False, None, err.code, err.reason)
        return LineOutcome(line_no, custom_id, True, tags)

    def _recover_id(self, text: str) -> str | None:
        """Salvage the id from a broken line, so its asset gets a reason, not silence."""
        match = _CUSTOM_ID_RE.search(text)
        if match is None:
            return None
        try:
            custom_id = json.loads(f'"{match.group(1)}"')
        except ValueError:
            return None
        if not isinstance(custom_id, str) or not custom_id:
            return None
        if self._known is not None and custom_id not in self._known:
            return None
        if custom_id in self._seen:
            return None
        return custom_id

    def _failed(self, line_no: int, custom_id: str | None, code: str, reason: str) -> LineOutcome:
        if custom_id is not None:
            self._seen.add(custom_id)
        return LineOutcome(line_no, custom_id, False, None, code, reason)
