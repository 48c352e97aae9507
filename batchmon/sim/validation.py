"""Validation of a batch input file, as OpenAI does it while a batch is `validating`.

A file that breaks any rule fails the whole batch; the reasons land in `batch.errors`
with the 1-based line number, so a person can fix the file and resubmit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class InputRequest:
    """One valid request line of a batch input file."""

    line: int
    custom_id: str
    body: dict[str, Any]
    size: int


@dataclass
class ValidationResult:
    requests: list[InputRequest] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _error(code: str, message: str, line: int | None, param: str | None) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def validate_input(data: bytes, endpoint: str) -> ValidationResult:
    """Check every line of `data` against the batch rules for `endpoint`."""
    result = ValidationResult()
    errors = result.errors
    if len(data) > MAX_BYTES:
        errors.append(
            _error(
                "file_too_large",
                f"The input file is {len(data)} bytes; a batch input file may be at most "
                f"{MAX_BYTES} bytes (200 MB).",
                None,
                None,
            )
        )
        return result
    seen: set[str] = set()
    count = 0
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        count += 1
        if count > MAX_REQUESTS:
            errors.append(
                _error(
                    "too_many_requests",
                    f"The input file has more than {MAX_REQUESTS} requests; split it into "
                    "several batches.",
                    line_no,
                    None,
                )
            )
            break
        request = _check_line(raw, line_no, endpoint, seen, result)
        if request is not None:
            result.requests.append(request)
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    if count == 0:
        errors.append(_error("empty_file", "The batch input file is empty.", None, None))
    return result


def _check_line(
    raw: bytes, line_no: int, endpoint: str, seen: set[str], result: ValidationResult
) -> InputRequest | None:
    errors = result.errors
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        errors.append(
            _error("invalid_json_line", f"This line is not valid JSON: {exc}.", line_no, None)
        )
        return None
    if not isinstance(obj, dict):
        errors.append(
            _error("invalid_json_line", "Each line must be a JSON object.", line_no, None)
        )
        return None
    custom_id = obj.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        errors.append(
            _error(
                "missing_required_parameter",
                "Each request needs a non-empty string custom_id.",
                line_no,
                "custom_id",
            )
        )
        return None
    if custom_id in seen:
        errors.append(
            _error(
                "duplicate_custom_id",
                f"The custom_id '{custom_id}' is a duplicate of another request. The "
                "custom_id parameter must be unique for each request in a batch.",
                line_no,
                "custom_id",
            )
        )
        return None
    seen.add(custom_id)
    if obj.get("method") != "POST":
        errors.append(
            _error(
                "invalid_method",
                f"The method must be 'POST'; got {obj.get('method')!r}.",
                line_no,
                "method",
            )
        )
        return None
    if obj.get("url") != endpoint:
        errors.append(
            _error(
                "invalid_url",
                f"The url {obj.get('url')!r} does not match the batch endpoint '{endpoint}'.",
                line_no,
                "url",
            )
        )
        return None
    body = obj.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(model, str) or not model:
        errors.append(
            _error(
                "missing_required_parameter",
                "Each request needs a body object with a model.",
                line_no,
                "body.model",
            )
        )
        return None
    if result.model is None:
        result.model = model
    elif model != result.model:
        errors.append(
            _error(
                "mismatched_model",
                f"All requests in a batch must use the same model; this line uses '{model}' "
                f"but earlier lines use '{result.model}'.",
                line_no,
                "body.model",
            )
        )
        return None
    return InputRequest(line=line_no, custom_id=custom_id, body=body, size=len(raw))
