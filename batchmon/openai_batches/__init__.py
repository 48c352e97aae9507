"""The only part of batchmon that talks to the OpenAI SDK: batches, files, typed errors."""

from .client import PAGE_SIZE, BatchClient, StatusReport
from .errors import (
    ApiServerError,
    ApiUnreachable,
    AuthenticationFailed,
    BadRequest,
    BatchAlreadyFinished,
    BatchApiError,
    BatchNotFound,
    EndpointNotFound,
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
    "BatchAlreadyFinished",
    "BatchApiError",
    "BatchClient",
    "BatchNotFound",
    "EndpointNotFound",
    "FileDownloadIncomplete",
    "FileNotFound",
    "MalformedResponse",
    "RateLimited",
    "StatusReport",
]
