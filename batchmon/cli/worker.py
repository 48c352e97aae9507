"""``worker``: the server-side poller in the terminal, with signals and a line per pass.

The loop itself is :meth:`Worker.run_forever`; here are only what a terminal and a
service manager need: SIGTERM/SIGINT handling, and printing each pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_OK
from batchmon.cli.jobs import default_limits
from batchmon.core.formatting import format_duration
from batchmon.engine.worker import PassReport, Worker, WorkerConfig
from batchmon.wiring import open_client, open_store, settings_from


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def pass_printer(lease_length: timedelta) -> Callable[[PassReport], None]:
    """The ``on_pass`` hook: one line per pass on stdout, applies below it, errors on
    stderr, and a warning when a pass outlasted the claim lease."""
    lease = lease_length.total_seconds()

    def print_pass(report: PassReport) -> None:
        run = report.run
        took = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        print(
            f"pass: checked {run.checked}, applied {run.applied}, failed {run.failed}, "
            f"{report.requests} API request(s), {took:.1f}s",
            flush=True,
        )
        for applied in report.applied:
            print(f"  {applied.summary()}", flush=True)
        for batch_id, error in report.errors.items():
            _say(f"  {batch_id}: {error}")
        if took > lease:
            _say(
                f"warning: the pass took {format_duration(took)}, longer than the "
                f"{format_duration(lease)} lease: another worker may have taken its batches "
                "meanwhile; raise --lease"
            )

    return print_pass


@contextlib.contextmanager
def _stop_on_signals(worker: Worker, task: asyncio.Task[object] | None) -> Iterator[None]:
    """First SIGTERM/SIGINT: stop claiming, finish what is in flight. Second: cancel."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal() -> None:
        if worker.stopping and task is not None:
            task.cancel()
        else:
            _say("stopping: finishing batches in flight (signal again to abort)")
            worker.request_stop()

    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    try:
        yield
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def cmd_worker(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    config = WorkerConfig(
        interval=args.interval,
        min_age=args.min_age,
        concurrency=args.concurrency,
        lease=args.lease,
        token_limits=default_limits(settings),
    )
    if args.worker_id:
        config = replace(config, worker_id=args.worker_id)
    async with open_store(settings) as opened, open_client(settings) as client:
        worker = Worker(client, opened.store, config)
        on_pass = pass_printer(config.lease)
        with _stop_on_signals(worker, asyncio.current_task()):
            if args.once:
                report = await worker.run_once()
                on_pass(report)
                return EXIT_ERROR if report.run.error else EXIT_OK
            _say(
                f"worker {config.worker_id}: polling every "
                f"{format_duration(config.interval.total_seconds())}"
            )
            await worker.run_forever(on_pass=on_pass)
    return EXIT_OK
