"""Arranging jobs: request sizes in estimated tokens, a worker pass, the job's batches."""

from __future__ import annotations

import math

from batchmon.core.planner import DEFAULT_TOKEN_FRACTION
from batchmon.core.requests import CHAT_COMPLETIONS, build_tag_request
from batchmon.core.tokens import request_tokens
from tests.fixtures.postgres import fetch_all
from tests.helpers.engine import RED_FOX

MODEL = "gpt-4o-mini"
ONE_REQUEST = request_tokens(
    build_tag_request("x", f"{RED_FOX}/0.jpg", model=MODEL)["body"], CHAT_COMPLETIONS
)
"""batchmon's estimate of one tagging request (the image's size unknown: the costliest)."""
LIMIT = math.ceil(4 * ONE_REQUEST / DEFAULT_TOKEN_FRACTION) + 1
"""A limit with room for one planned batch of four requests at a time, never two."""
SIM_LIMIT = LIMIT
"""The simulator's queue limit for MODEL: the same, so only a misjudged batch is refused."""


def openai_batches_of_job(database_url: str, job_id: str) -> list[tuple[str, str]]:
    """(OpenAI batch id, status) of every batch a job's planned batches were sent as."""
    return fetch_all(
        database_url,
        "select o.id, o.status from public.openai_batches o where o.metadata ->> "
        "'batchmon_job' = %s order by o.created_at, o.id",
        (job_id,),
    )
