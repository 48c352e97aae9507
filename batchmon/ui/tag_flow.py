"""The "Tag N untagged assets…" action: the plan and its cost first, the job on Yes.

The plan shown is the planner's, over the same limits the job is then stored with
(``engine.jobs.plan_limits``: stored model limits over the tier defaults), so the
confirmation and the job agree. The job's batches are submitted by the worker as each
model's queue has room; nothing is sent from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from PySide6.QtWidgets import QWidget

from batchmon.core.planner import PlanLimits, PlannedBatch, plan_batches
from batchmon.core.requests import build_tag_request
from batchmon.store import AssetRow, Store
from batchmon.ui.banner import Banner
from batchmon.ui.job_plan import counted
from batchmon.ui.tag_dialog import ask_tag_job


class UntaggedAssets(Protocol):
    """Where the assets never tagged come from (the bootstrap supplies it)."""

    async def count(self) -> int:
        """How many there are: cheap, asked every few seconds."""
        ...

    async def assets(self) -> Sequence[AssetRow]:
        """The assets themselves, asked when the person chooses to tag them."""
        ...


def request_lines(assets: Iterable[AssetRow]) -> Iterator[dict[str, Any]]:
    """One request line per asset that can be sent (an asset without an image is not)."""
    for asset in assets:
        try:
            yield build_tag_request(asset.id, asset.image_url or "")
        except ValueError:
            continue


async def preview(
    store: Store, assets: Sequence[AssetRow]
) -> tuple[PlanLimits, list[PlannedBatch]]:
    """The limits a job would be stored with, and the batches they give."""
    from batchmon.engine.jobs import plan_limits

    limits = await plan_limits(store)
    return limits, list(plan_batches(request_lines(assets), limits, keep_lines=False))


async def tag_untagged(
    parent: QWidget | None, store: Store, source: UntaggedAssets, banner: Banner
) -> str | None:
    """Ask with the plan; on Yes store the job (with its budget). Returns the job id."""
    from batchmon.engine.jobs import create_job

    assets = list(await source.assets())
    if not assets:
        banner.show_message("No untagged assets.", "info")
        return None
    limits, batches = await preview(store, assets)
    choice = await ask_tag_job(parent, len(assets), batches)
    if not choice.accepted:
        return None
    plan = await create_job(store, assets, limits=limits, max_cost=choice.max_cost)
    banner.show_message(
        f"Job {plan.job_id[:8]} created: {counted(plan.requests, 'request')} in "
        f"{counted(plan.batches, 'batch', 'batches')}, sent as the queue has room.",
        "success",
    )
    return plan.job_id
