"""Validation of a batch input file, as OpenAI does it while a batch is `validating`.

A file that breaks any rule fails the whole batch; the reasons land in `batch.errors`
with the 1-based line number, so a person can fix the file and resubmit. Codes, params
and messages are OpenAI's as recorded against the real API in llama-stack's batch
integration tests (tests/integration/batches/test_batches_errors.py), e.g.
`BatchError(code='missing_required_parameter', line=2, message="Missing required
parameter: 'method'.", param='method')`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .models import snapshot_of

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
MAX_REPORTED_ERRORS = 100
_API_NAMES = {
    "/v1/chat/completions": "Chat Completions",
    "/v1/responses": "Responses",
    "/v1/completions": "Completions",
}


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
    def snapshot(self) -> str | None:
        """The dated model the batch runs on (what `batch.model` reports)."""
        return snapshot_of(self.model) if self.model is not None else None

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
    except (UnicodeDecodeError, json.JSONDecodeError):
        message = "This line is not parseable as valid JSON."
        errors.append(_error("invalid_json_line", message, line_no, None))
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
                "Missing required parameter: 'custom_id'.",
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
    problem = _request_problem(obj, endpoint)
    if problem is not None:
        code, message, param = problem
        errors.append(_error(code, message, line_no, param))
        return None
    body: dict[str, Any] = obj["body"]
    model: str = body["model"]
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


def _request_problem(obj: dict[str, Any], endpoint: str) -> tuple[str, str, str] | None:
    """The first rule a line's method, url or body breaks: (code, message, param).

    A missing field is `missing_required_parameter` naming it; a present but wrong one has
    a code of its own (`invalid_method`, `invalid_url`, `model_not_found`).
    """
    for name in ("method", "url", "body"):
        if name not in obj or obj[name] is None:
            return ("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
    if obj["method"] != "POST":
        return ("invalid_method", f"The method must be 'POST'; got {obj['method']!r}.", "method")
    if obj["url"] != endpoint:
        message = "The URL provided for this request does not match the batch endpoint."
        return ("invalid_url", message, "url")
    body = obj["body"]
    if not isinstance(body, dict):
        return ("missing_required_parameter", "Missing required parameter: 'body'.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return ("invalid_request", "Model parameter is required.", "body.model")
    if snapshot_of(model) is None:
        message = f"The provided model '{model}' is not supported by the Batch API."
        return ("model_not_found", message, "body.model")
    if endpoint == "/v1/chat/completions" and "messages" not in body:
        return ("invalid_request", "Messages parameter is required.", "body.messages")
    if body.get("stream") is True:
        api = _API_NAMES.get(endpoint, "This endpoint")
        message = f"{api}: Streaming is not supported in the Batch API."
        return ("streaming_unsupported", message, "body.stream")
    return None
