"""``batchmon --self-test``: prove that an installed (or frozen) desktop really works.

A bundle can build fine and still miss a Qt plugin, an icon, the PostgreSQL binaries or
the SQL migrations; only running the real thing finds out. The self-test opens the main
window offscreen, starts a temporary embedded database and the simulator, submits one
small batch and runs one sync pass through the window's own code path, then stops
everything and removes the temporary files. It prints one line per step, and on
failure the step that failed and why, and exits non-zero.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from batchmon.config import Settings
from batchmon.ui.resources import STATUS_COLORS, TRAY_STATES, app_icon, status_icon, tray_icon

if TYPE_CHECKING:
    from batchmon.ui.error_reporter import ErrorReporter

#: Generous: a cold embedded PostgreSQL (initdb) on a slow CI machine takes seconds.
TIMEOUT_SECONDS = 180.0


class SelfTestFailed(Exception):
    """One step of the self-test did not do what it should."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


@contextmanager
def _step(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except SelfTestFailed:
        raise
    except Exception as exc:
        raise SelfTestFailed(name, f"{type(exc).__name__}: {exc}") from exc
    print(f"self-test: {name}: ok ({time.perf_counter() - started:.2f} s)", flush=True)


def _check(condition: bool, step: str, reason: str) -> None:
    if not condition:
        raise SelfTestFailed(step, reason)


async def run_self_test(app: QApplication, reporter: ErrorReporter | None = None) -> int:
    """Run every step; 0 when all passed, 1 (with the reason on stderr) otherwise."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            count = await _run_steps(app, reporter)
    except SelfTestFailed as exc:
        print(f"batchmon self-test FAILED while {exc.step}: {exc.reason}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(
            f"batchmon self-test FAILED: did not finish within {TIMEOUT_SECONDS:g} s",
            file=sys.stderr,
        )
        return 1
    print(
        f"batchmon self-test passed in {time.perf_counter() - started:.1f} s "
        f"(one sync pass saw {count} batch{'es' if count != 1 else ''})",
        flush=True,
    )
    return 0


async def _run_steps(app: QApplication, reporter: ErrorReporter | None) -> int:
    from batchmon.ui.demo import DEMO_BATCHES, DemoEnvironment, DemoPace
    from batchmon.ui.desktop import Desktop

    with _step("loading icons from resources/"):
        _check(not app_icon().isNull(), "loading icons", "the application icon is empty")
        for status in STATUS_COLORS:
            _check(not status_icon(status).isNull(), "loading icons", f"no icon for {status}")
        for state in TRAY_STATES:
            _check(not tray_icon(state, 3).isNull(), "loading icons", f"no tray icon {state}")

    with tempfile.TemporaryDirectory(prefix="batchmon-self-test-") as tmp:
        data_dir = Path(tmp)
        await asyncio.to_thread(data_dir.chmod, 0o755)  # the server may run as its own user
        env = DemoEnvironment(data_dir, DemoPace(day_seconds=5.0))
        desktop = Desktop(
            Settings(data_dir=str(data_dir)),
            demo=True,
            native_notifications=False,
        )
        if reporter is not None:
            reporter.window = desktop.window
        errors_before = reporter.count if reporter is not None else 0
        try:
            with _step("opening the main window"):
                desktop.window.show()
                desktop.window.repaint()
                _check(desktop.window.isVisible(), "opening the main window", "it is not visible")
            with _step("starting a temporary embedded database and the simulator"):
                await env.start()
                assert env.store is not None and env.client is not None
            with _step("connecting the window to the database"):
                await desktop.attach(env.store, env.client)
                desktop.set_paused(True)  # this test runs the pass itself
            with _step("submitting a batch to the simulator"):
                quick = [plan for plan in DEMO_BATCHES if plan.label == "quick"]
                (batch_id,) = await env.submit_demo_batches(quick)
            with _step("running one sync pass"):
                result = await desktop.sync_pass()
                _check(
                    batch_id in result.batches,
                    "running one sync pass",
                    f"the pass did not report {batch_id}",
                )
                _check(
                    desktop.batches.get(batch_id) is not None and desktop.model.rowCount() >= 1,
                    "running one sync pass",
                    "the batch is not in the window's table",
                )
            if reporter is not None and reporter.count > errors_before:
                raise SelfTestFailed(
                    "running the window", f"{reporter.count - errors_before} error(s) reported"
                )
            return len(result.batches)
        finally:
            with _step("stopping the database, the simulator and the window"):
                await desktop.aclose()
                await env.aclose()
                desktop.window.close()
                desktop.window.deleteLater()
                desktop.deleteLater()
