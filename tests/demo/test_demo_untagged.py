"""The demo's uploads: what "Tag N untagged assets…" offers, and nothing a job holds."""

from __future__ import annotations

from pathlib import Path

from batchmon.ui.demo import DEMO_JOB, DEMO_UNTAGGED, DemoEnvironment, DemoPace, demo_asset_id


async def test_the_demo_offers_its_uploads_for_tagging_not_the_assets_its_job_holds(
    tmp_path: Path,
) -> None:
    env = DemoEnvironment(tmp_path, DemoPace(day_seconds=3.0))
    await env.start()
    try:
        assert env.store is not None
        await env.submit_demo_batches()  # no worker: the job's batches stay queued
        uploads = [demo_asset_id(env.seed, DEMO_UNTAGGED.label, s) for s in DEMO_UNTAGGED.subjects]
        held = {demo_asset_id(env.seed, DEMO_JOB.label, s) for s in DEMO_JOB.subjects}

        offered = await env.store.untagged_asset_ids()
        assert sorted(offered) == sorted(uploads) and not held & set(offered)
        assert await env.store.untagged_count() == len(uploads)
    finally:
        await env.aclose()
