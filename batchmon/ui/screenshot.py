"""Take ``docs/screenshot.png`` the same way every time: the demo, a while in, one row open.

A screenshot taken by hand drifts from the product; this runs the real demo (embedded
PostgreSQL, simulator, worker) in a throwaway data dir, waits until the scripted
batches have had time to finish, selects one, and saves ``QWidget.grab()`` of the
window. Run it on a real X server so fonts and styles are the ones people see::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1400x900x24" \\
        .venv/bin/python -m batchmon.ui.screenshot docs/screenshot.png
    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1400x900x24" \\
        .venv/bin/python -m batchmon.ui.screenshot --select rejected --part detail \\
        docs/detail-failed.png
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from batchmon.config import Settings
from batchmon.ui.main_window import DEFAULT_SIZE

if TYPE_CHECKING:
    from batchmon.ui.demo import DemoEnvironment


async def _start_job(env: DemoEnvironment, assets: int, per_batch: int) -> None:
    """A job of ``assets`` images whose model's queue holds two of its batches at once,
    so the job row shows batches queued, running and done side by side."""
    from batchmon.core.planner import PlanLimits
    from batchmon.core.requests import DEFAULT_MODEL
    from batchmon.engine.jobs import create_job
    from batchmon.ui.demo import DemoBatch, insert_assets

    assert env.store is not None and env.database_url is not None
    subjects = tuple(f"photo-{n:05d}" for n in range(assets))
    ids = await asyncio.to_thread(insert_assets, env.database_url, DemoBatch("job", subjects, 0))
    plan = await create_job(
        env.store,
        await env.store.assets_by_ids(ids),
        limits=PlanLimits(max_requests=per_batch),
    )
    per_batch_tokens = plan.estimated_tokens // max(plan.batches, 1)
    await env.store.set_model_limit(DEFAULT_MODEL, int(per_batch_tokens * 2.5))


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m batchmon.ui.screenshot")
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--after", type=float, default=44.0, help="seconds into the demo")
    parser.add_argument("--select", default="partial", help="demo label of the row to open")
    parser.add_argument(
        "--part",
        choices=("window", "detail"),
        default="window",
        help="grab the whole window, or only the detail pane of the selected row",
    )
    parser.add_argument(
        "--job",
        type=int,
        default=0,
        metavar="ASSETS",
        help="also tag this many assets as one job, in batches of --job-batch requests",
    )
    parser.add_argument("--job-batch", type=int, default=100, metavar="REQUESTS")
    parser.add_argument("--width", type=int, default=DEFAULT_SIZE.width())
    parser.add_argument("--height", type=int, default=DEFAULT_SIZE.height())
    return parser.parse_args(argv)


async def take(app: QApplication, args: argparse.Namespace) -> int:
    from batchmon.ui.demo import DEMO_BATCHES, DemoEnvironment
    from batchmon.ui.desktop import Desktop
    from batchmon.ui.untagged_source import StoreUntagged

    with tempfile.TemporaryDirectory(prefix="batchmon-screenshot-") as tmp:
        await asyncio.to_thread(Path(tmp).chmod, 0o755)  # the server may run as its own user
        env = DemoEnvironment(Path(tmp))
        desktop = Desktop(Settings(data_dir=tmp), demo=True, native_notifications=False)
        window = desktop.window
        window.resize(args.width, args.height)
        window.show()
        try:
            await env.start()
            assert env.store is not None and env.client is not None
            desktop.use_clock(env.simulator.clock.now, env.time_base)
            desktop.set_untagged_source(StoreUntagged(env.store))  # as the app does
            await desktop.attach(env.store, env.client)
            env.start_worker()
            ids = await env.submit_demo_batches()
            if args.job:
                await _start_job(env, args.job, args.job_batch)
            desktop.poller.resume()
            labels = [plan.label for plan in DEMO_BATCHES]
            wanted = ids[labels.index(args.select)] if args.select in labels else None
            # A documentation tool, not a test: demo time is what it waits for.
            await asyncio.sleep(max(0.0, args.after - 2.0))
            if wanted:
                window.select_batch(wanted)
            if args.job:
                window.jobs.expandAll()  # the job's batches under its row
            await asyncio.sleep(2.0)  # let the detail pane load and paint
            target = window.detail if args.part == "detail" else window
            if not target.grab().save(str(args.output)):
                print(f"could not write {args.output}", file=sys.stderr)
                return 1
            print(f"wrote {args.output}")
            return 0
        finally:
            await desktop.aclose()
            await env.aclose()
            window.close()


def main(argv: list[str] | None = None) -> int:
    import qasync

    from batchmon.ui.app import configure_application

    args = _parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(["batchmon"])
    assert isinstance(app, QApplication)
    configure_application(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return loop.run_until_complete(take(app, args))


if __name__ == "__main__":
    raise SystemExit(main())
