"""OpenAI-shaped API errors: `{"error": {"message", "type", "param", "code"}}`.

Every refusal the simulator makes goes through ApiError, so clients see the same status
codes and bodies the real API sends and the simulator never answers 500 by accident.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error response in OpenAI's format."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str, *, param: str = "id") -> ApiError:
    return ApiError(404, f"No {kind} found with id '{object_id}'.", param=param, code=None)


def file_not_found(file_id: str) -> ApiError:
    """OpenAI's 404 for a file that never existed, was deleted or expired.

    As recorded in openai-dotnet's API-reference tests (FileDocs.RetrieveFile): type
    invalid_request_error, param `id`, message "No such File object: file-abc123".
    """
    return ApiError(404, f"No such File object: {file_id}", param="id", code=None)


def unauthorized(provided: bool) -> ApiError:
    if provided:
        message = (
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return ApiError(401, message, code="invalid_api_key")
    message = (
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    )
    return ApiError(401, message, code=None)


def rate_limited(retry_after: float | None) -> ApiError:
    """OpenAI's 429; `retry_after` None sends no Retry-After headers (OpenAI does not
    always send them, and a client must then choose its own wait)."""
    if retry_after is None:
        return ApiError(
            429,
            "Rate limit reached for requests. Please try again later.",
            type="requests",
            code="rate_limit_exceeded",
        )
    seconds = max(0.0, retry_after)
    return ApiError(
        429,
        f"Rate limit reached for requests. Please try again in {seconds:g}s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(max(0, round(seconds))),
            "retry-after-ms": str(round(seconds * 1000)),
        },
    )


def server_error(status_code: int) -> ApiError:
    if status_code == 503:
        return ApiError(
            503, "The engine is currently overloaded, please try again later.", type="server_error"
        )
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )
