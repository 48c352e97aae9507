"""The only part of batchmon that talks to the OpenAI SDK: batches, files, typed errors."""

from .client import PAGE_SIZE, BatchClient, StatusReport
from .errors import (
    ApiServerError,
    ApiUnreachable,
    AuthenticationFailed,
    BadRequest,
    BatchApiError,
    BatchNotFound,
    FileDownloadIncomplete,
    FileNotFound,
    MalformedResponse,
    RateLimited,
)

__all__ = [
    "PAGE_SIZE",
    "ApiServerError",
    "ApiUnreachable",
    "AuthenticationFailed",
    "BadRequest",
    "BatchApiError",
    "BatchClient",
    "BatchNotFound",
    "FileDownloadIncomplete",
    "FileNotFound",
    "MalformedResponse",
    "RateLimited",
    "StatusReport",
]
