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

from PySide6.QtWidgets import QApplication

from batchmon.config import Settings
from batchmon.ui.main_window import DEFAULT_SIZE


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
    parser.add_argument("--width", type=int, default=DEFAULT_SIZE.width())
    parser.add_argument("--height", type=int, default=DEFAULT_SIZE.height())
    return parser.parse_args(argv)


async def take(app: QApplication, args: argparse.Namespace) -> int:
    from batchmon.ui.demo import DEMO_BATCHES, DemoEnvironment
    from batchmon.ui.desktop import Desktop

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
            await desktop.attach(env.store, env.client)
            env.start_worker()
            ids = await env.submit_demo_batches()
            desktop.poller.resume()
            labels = [plan.label for plan in DEMO_BATCHES]
            wanted = ids[labels.index(args.select)] if args.select in labels else None
            # A documentation tool, not a test: demo time is what it waits for.
            await asyncio.sleep(max(0.0, args.after - 2.0))
            if wanted:
                window.select_batch(wanted)
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
