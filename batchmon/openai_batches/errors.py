"""Errors a person can act on, translated from the OpenAI SDK's exceptions.

Callers (engine, worker, desktop) catch these instead of ``openai.*`` exceptions, so the
SDK stays behind this one package. Each error carries ``hint``: one sentence saying what
to do about it, ready to show in the status bar or a log line. No error text ever
contains the API key.
"""

from __future__ import annotations

import email.utils
import math
import time

import httpx2
import openai

__all__ = [
    "ApiServerError",
    "ApiUnreachable",
    "AuthenticationFailed",
    "BadRequest",
    "BatchAlreadyFinished",
    "BatchApiError",
    "BatchNotFound",
    "EndpointNotFound",
    "FileDownloadIncomplete",
    "FileNotFound",
    "MalformedResponse",
    "RateLimited",
]
"""The errors callers catch; the package exports exactly these. The translations below
are for :mod:`.client` alone."""


class BatchApiError(Exception):
    """Base of every error the batch client raises; ``hint`` says what to do."""

    default_hint = "Try again; if it keeps failing, check the OpenAI status page."

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        # No closing period: callers write "message. hint" and "message (hint)".
        message = message.rstrip().rstrip(".")
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})"


class AuthenticationFailed(BatchApiError):
    """401/403: the key is wrong, revoked, or lacks access to this organization/project."""

    default_hint = (
        "Check the OpenAI API key in batchmon's settings (and the organization/project, "
        "if set): it was rejected or lacks access to the Batch API."
    )


class BatchNotFound(BatchApiError):
    """404: no such batch (or file) for this key's organization and project."""

    default_hint = (
        "The batch does not exist for this API key's organization/project: check the id, "
        "and that the key belongs to the project that created it."
    )


class FileNotFound(BatchNotFound):
    """404 on a file: deleted, expired (batch files expire), or never uploaded."""

    default_hint = (
        "The file is gone (deleted or expired) or belongs to another project; "
        "retry rebuilds requests from the assets when the input file has expired."
    )


class RateLimited(BatchApiError):
    """429 after the SDK's own retries gave up; ``retry_after`` is the server's wish."""

    default_hint = "OpenAI is rate limiting this key: wait and try again."

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        hint: str | None = None,
        status_code: int | None = 429,
        request_id: str | None = None,
    ) -> None:
        if hint is None and retry_after is not None:
            hint = f"OpenAI is rate limiting this key: wait {retry_after:g} s and try again."
        super().__init__(message, hint=hint, status_code=status_code, request_id=request_id)
        self.retry_after = retry_after


class ApiUnreachable(BatchApiError):
    """No usable answer arrived: connection refused or dropped, DNS, or a timeout."""

    default_hint = (
        "Check the network connection and the API base URL; batchmon retries on the next poll."
    )


class FileDownloadIncomplete(ApiUnreachable):
    """The connection ended before the whole file arrived; no partial line was yielded."""

    default_hint = (
        "The download was cut off before the end; nothing partial was used. "
        "It is retried on the next poll."
    )


class MalformedResponse(BatchApiError):
    """A 2xx answer that is not what the API sends: HTML, broken JSON, a wrong shape.

    Proxies, captive portals and a wrong base URL answer 200 with pages of their own;
    nothing from such an answer is used.
    """

    default_hint = (
        "Something between batchmon and OpenAI answered instead of the API (check the "
        "base URL and any proxy); batchmon tries again on the next poll."
    )


class EndpointNotFound(BatchApiError):
    """404 from something that is not the Batch API: the base URL's path is wrong."""

    default_hint = (
        "The API base URL does not lead to the Batch API: it should end in /v1 "
        "(e.g. https://api.openai.com/v1); the batch itself is not the problem."
    )


class ApiServerError(BatchApiError):
    """5xx after the SDK's own retries: OpenAI's side is failing."""

    default_hint = "OpenAI returned a server error: it is retried on the next poll."


class BadRequest(BatchApiError):
    """400/409/422: OpenAI refused the request itself; retrying unchanged will not help."""

    default_hint = (
        "OpenAI refused the request as sent (see the message): fix the input file "
        "or parameters before trying again."
    )


class BatchAlreadyFinished(BadRequest):
    """409 on cancel: the batch reached a final state before the request arrived."""

    default_hint = "The batch already finished, so there is nothing left to cancel."


def parse_retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, ``retry-after`` (s or date)."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / divisor
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is not None:
            return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
    return None


def _server_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return err.message


def _is_wrong_path(err: openai.NotFoundError) -> bool:
    """A 404 not about a batch or file: no OpenAI error object, or "Invalid URL (...)".

    OpenAI answers a missing batch or file with an error object naming it; a path it
    does not serve (a base URL without /v1) with "Invalid URL"; a server that is not
    OpenAI at all with a page or object of its own.
    """
    body = err.body
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        return True
    return message.startswith("Invalid URL")


def from_openai_error(
    err: openai.OpenAIError, *, what: str, not_found: type[BatchNotFound] = BatchNotFound
) -> BatchApiError:
    """Translate an SDK exception raised while doing ``what`` (e.g. "retrieve batch b1")."""
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        detail = f"{what}: HTTP {status}: {_server_message(err)}"
        rid = err.request_id
        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            return AuthenticationFailed(detail, status_code=status, request_id=rid)
        if isinstance(err, openai.NotFoundError):
            if _is_wrong_path(err):
                return EndpointNotFound(detail, status_code=status, request_id=rid)
            return not_found(detail, status_code=status, request_id=rid)
        if isinstance(err, openai.RateLimitError):
            hint = None
            if err.code == "insufficient_quota":
                hint = "The OpenAI account is out of quota: add credit or raise the limit."
            retry_after = parse_retry_after(err.response.headers)
            return RateLimited(
                detail, retry_after=retry_after, hint=hint, status_code=status, request_id=rid
            )
        if isinstance(
            err, openai.BadRequestError | openai.ConflictError | openai.UnprocessableEntityError
        ):
            return BadRequest(detail, status_code=status, request_id=rid)
        if status >= 500:
            return ApiServerError(detail, status_code=status, request_id=rid)
        return BatchApiError(detail, status_code=status, request_id=rid)
    if isinstance(err, openai.APITimeoutError):
        return ApiUnreachable(f"{what}: the request timed out")
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        return ApiUnreachable(f"{what}: could not reach the API{reason}")
    return BatchApiError(f"{what}: {type(err).__name__}: {err}")


def from_transport_error(err: httpx2.HTTPError, *, what: str) -> ApiUnreachable:
    """Translate an httpx2 error raised while reading a streamed body."""
    if isinstance(err, httpx2.TimeoutException):
        return ApiUnreachable(f"{what}: the download timed out")
    return FileDownloadIncomplete(f"{what}: the connection ended early ({type(err).__name__})")
