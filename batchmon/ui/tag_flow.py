"""The "Tag N untagged assets…" action: the plan and its cost first, the job on Yes.

The plan shown is the planner's, over the same limits and at the same image size the job
is then stored with (``engine.jobs.plan_limits``: stored model limits over the tier
defaults; the size from the settings, or as changed in the confirmation), so the
confirmation and the job agree. The job's batches are submitted by the worker as each
model's queue has room; nothing is sent from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from PySide6.QtWidgets import QWidget

from batchmon.core.planner import PlanLimits, PlannedBatch, plan_batches
from batchmon.store import AssetRow, Store
from batchmon.ui.banner import Banner
from batchmon.ui.job_plan import counted
from batchmon.ui.tag_dialog import ImageSize, ask_tag_job


class UntaggedAssets(Protocol):
    """Where the assets never tagged come from (the bootstrap supplies it)."""

    async def count(self) -> int:
        """How many there are: cheap, asked every few seconds."""
        ...

    async def assets(self) -> Sequence[AssetRow]:
        """The assets themselves, asked when the person chooses to tag them."""
        ...


def plan_at(
    assets: Sequence[AssetRow], limits: PlanLimits, image_size: ImageSize | None
) -> list[PlannedBatch]:
    """The batches ``assets`` make within ``limits``, every image counted at ``image_size``."""
    from batchmon.engine.jobs import job_lines, sized_estimate

    lines = job_lines(assets)
    return list(plan_batches(lines, limits, keep_lines=False, estimate=sized_estimate(image_size)))


async def preview(
    store: Store, assets: Sequence[AssetRow], image_size: ImageSize | None = None
) -> tuple[PlanLimits, list[PlannedBatch]]:
    """The limits a job would be stored with, and the batches they give at ``image_size``."""
    from batchmon.engine.jobs import plan_limits

    limits = await plan_limits(store)
    return limits, await asyncio.to_thread(plan_at, assets, limits, image_size)


async def tag_untagged(
    parent: QWidget | None,
    store: Store,
    source: UntaggedAssets,
    banner: Banner,
    *,
    image_size: ImageSize | None = None,
) -> str | None:
    """Ask with the plan; on Yes store the job (with its budget and image size).

    ``image_size`` is the size the plan starts at (the setting); the person may change it
    in the confirmation, which plans again off the event loop. Returns the job id.
    """
    from batchmon.engine.jobs import create_job

    assets = list(await source.assets())
    if not assets:
        banner.show_message("No untagged assets.", "info")
        return None
    limits, batches = await preview(store, assets, image_size)

    async def replan(size: ImageSize | None) -> list[PlannedBatch]:
        return await asyncio.to_thread(plan_at, assets, limits, size)

    choice = await ask_tag_job(parent, len(assets), batches, image_size=image_size, replan=replan)
    if not choice.accepted:
        return None
    plan = await create_job(
        store, assets, limits=limits, max_cost=choice.max_cost, image_size=choice.image_size
    )
    banner.show_message(
        f"Job {plan.job_id[:8]} created: {counted(plan.requests, 'request')} in "
        f"{counted(plan.batches, 'batch', 'batches')}, sent as the queue has room.",
        "success",
    )
    return plan.job_id
