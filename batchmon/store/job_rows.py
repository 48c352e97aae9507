"""What the jobs part of the SQL API returns (migrations 007, 010), as the store hands it out.

A job is split into planned batches; a queue in the database submits them while each
model's enqueued-token limit has room. These rows are what the submitter, the CLI and
the desktop read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batchmon.core.tokens import ImageSize

JOB_ASSET_PAGE = 5_000
"""Asset ids sent per call when a planned batch is stored (a batch holds up to 50,000)."""


def asset_id_pages(asset_ids: Sequence[str]) -> list[list[str]]:
    """A planned batch's ids as the calls that store it send them (at least one page)."""
    ids = list(asset_ids)
    return [ids[i : i + JOB_ASSET_PAGE] for i in range(0, len(ids), JOB_ASSET_PAGE)] or [[]]


@dataclass(frozen=True, slots=True)
class JobBatch:
    """One planned batch. ``state``: planning, queued, submitting, submitted, done,
    refused (back in the queue after a refusal) or cancelled.

    ``asset_ids`` is filled by a claim and left empty in listings.
    """

    id: int
    job_id: str
    user_id: str | None
    model: str
    endpoint: str
    ordinal: int
    attempt: int
    attempts: int
    asset_ids: tuple[str, ...]
    request_count: int
    bytes: int
    estimated_tokens: int
    estimated_cost: float | None
    state: str
    retry_token: str | None
    openai_batch_id: str | None
    job_created_at: datetime | None = None
    input_file_id: str | None = None
    """Uploaded for the current ``retry_token``: a create from it may have happened."""
    uploaded_at: int | None = None
    """That upload's ``created_at`` (Unix seconds, the API's clock)."""


@dataclass(frozen=True, slots=True)
class EndedJobBatch:
    """A submitted planned batch whose OpenAI batch has ended, waiting to be settled."""

    id: int
    job_id: str
    attempt: int
    attempts: int
    attempts_allowed: int
    job_status: str
    openai_batch_id: str
    status: str
    errors: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    request_counts: dict[str, Any] | None = None
    model: str | None = None
    applied: bool = False
    estimated_tokens: int = 0
    job_model: str = ""
    """The model the job asked for (``model`` is the dated snapshot that ran)."""
    endpoint: str = ""
    image_size: ImageSize | None = None
    """The job's :data:`ImageSize`: what its remainder and its parts are estimated at."""


@dataclass(frozen=True, slots=True)
class JobSummary:
    """A job at a glance: progress, batches by state, queue use and cost (USD)."""

    id: str
    user_id: str | None
    model: str
    endpoint: str
    status: str
    attempts_allowed: int
    max_cost: float | None
    estimated_cost: float
    actual_cost: float
    created_at: datetime | None
    finished_at: datetime | None
    assets: int
    completed: int
    failed: int
    batches_queued: int
    batches_running: int
    batches_done: int
    tokens_enqueued: int
    token_limit: int | None
    image_size: ImageSize | None = None


@dataclass(frozen=True, slots=True)
class ModelLimit:
    """A model's enqueued-token limit, ``configured`` or ``learned``, and its queue use."""

    model: str
    enqueued_token_limit: int
    source: str
    learned_at: datetime | None = None
    tokens_enqueued: int = 0


@dataclass(frozen=True, slots=True)
class JobCancel:
    """What cancelling a job did: planned batches dropped, OpenAI batches to cancel."""

    dropped: int
    running: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class JobBatchPart:
    """One part of a planned batch split for a smaller limit: its assets and figures."""

    asset_ids: tuple[str, ...]
    byte_size: int
    estimated_tokens: int
    estimated_cost: float | None


def job_batch_part(part: JobBatchPart) -> dict[str, Any]:
    """A part as ``split_job_batch`` takes it (one JSON object)."""
    return {
        "asset_ids": list(part.asset_ids),
        "bytes": part.byte_size,
        "tokens": part.estimated_tokens,
        "cost": part.estimated_cost,
    }
