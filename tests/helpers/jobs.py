"""Arranging jobs: request sizes in estimated tokens, a worker pass, the job's batches."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from batchmon.core.planner import DEFAULT_TOKEN_FRACTION
from batchmon.core.requests import CHAT_COMPLETIONS, build_tag_request
from batchmon.core.tokens import request_tokens
from batchmon.engine.jobs import JobPlan, create_job
from batchmon.sim import Simulator
from batchmon.store import Store
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.helpers.engine import RED_FOX

MODEL = "gpt-4o-mini"
_TAG_BODY = build_tag_request("x", f"{RED_FOX}/0.jpg", model=MODEL)["body"]
ONE_REQUEST = request_tokens(_TAG_BODY, CHAT_COMPLETIONS)
"""batchmon's estimate of one tagging request (the image's size unknown: the costliest)."""
SIZE = (512, 512)
"""A known image size: one tile, a small fraction of the costliest image on MODEL."""
SIZED_REQUEST = request_tokens(_TAG_BODY, CHAT_COMPLETIONS, image_size=SIZE)
"""batchmon's estimate of one tagging request whose image is SIZE."""


def room_for_four(one_request: int) -> int:
    """A limit with room for one planned batch of four such requests at a time, never two."""
    return math.ceil(4 * one_request / DEFAULT_TOKEN_FRACTION) + 1


LIMIT = room_for_four(ONE_REQUEST)
"""A limit with room for one planned batch of four requests at a time, never two."""
SIM_LIMIT = LIMIT
"""The simulator's queue limit for MODEL: the same, so only a misjudged batch is refused."""


async def limited_job(
    store: Store, database_url: str, count: int, **options: Any
) -> tuple[list[str], JobPlan]:
    """``count`` new assets planned as one MODEL job, the store knowing the model's LIMIT."""
    ids = insert_assets(database_url, count, url_prefix=RED_FOX)
    await store.set_model_limit(MODEL, LIMIT)
    return ids, await create_job(store, await store.assets_by_ids(ids), MODEL, **options)


def openai_batches_of_job(database_url: str, job_id: str) -> list[tuple[str, str]]:
    """(OpenAI batch id, status) of every batch a job's planned batches were sent as."""
    return fetch_all(
        database_url,
        "select o.id, o.status from public.openai_batches o where o.metadata ->> "
        "'batchmon_job' = %s order by o.created_at, o.id",
        (job_id,),
    )


ASSET_COLUMNS = frozenset({"auto_tag_status", "auto_tag_error", "openai_batch_id"})


def asset_groups(
    database_url: str, ids: list[str], first: str, second: str
) -> list[tuple[Any, ...]]:
    """``(first, second, count)`` over the assets ``ids``, one row per pair of values."""
    assert {first, second} <= ASSET_COLUMNS, "columns are named, not passed in"
    return fetch_all(
        database_url,
        f"select {first}, {second}, count(*) from public.assets "
        "where id = any(%s::uuid[]) group by 1, 2",
        (ids,),
    )


def assets_in_live_batches(simulator: Simulator) -> Counter[str]:
    """How many of the simulator's unfinished batches hold each custom id (OpenAI's view)."""
    held: Counter[str] = Counter()
    for batch in simulator.list_batches(limit=100)["data"]:
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            continue
        for raw in simulator.file_content(batch["input_file_id"]).splitlines():
            held[json.loads(raw)["custom_id"]] += 1
    return held
