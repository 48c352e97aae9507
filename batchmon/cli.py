"""``batchmon``: the composition root. Parses the command line, runs a command, maps errors.

With no subcommand (or ``--demo``) it starts the desktop monitor. Exit codes: 0 ok,
1 an operation failed, 2 usage error, 3 configuration error. Errors a person can act on
print one clear line (with what to do), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from batchmon import __version__
from batchmon.cli_output import parse_duration, positive_int
from batchmon.desktop_options import add_desktop_arguments

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_INTERRUPTED = 130

COMMANDS = ("submit", "status", "retry", "cancel", "runs", "worker", "db", "sim", "webhook")

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connections")
    group.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded database)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI API base URL (default: $OPENAI_BASE_URL; e.g. http://127.0.0.1:8765/v1)",
    )
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchmon",
        description=(
            "Watch, apply and retry OpenAI Batch API work. Without a command, "
            "starts the desktop monitor (--demo: offline demo)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"batchmon {__version__}")
    add_desktop_arguments(parser.add_argument_group("desktop (without a command)"))
    common = _connection_options()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    submit = sub.add_parser("submit", parents=[common], help="send assets for tagging")
    pick = submit.add_mutually_exclusive_group(required=True)
    pick.add_argument("--all-untagged", action="store_true", help="every asset never tagged")
    pick.add_argument("--ids", action="append", metavar="ID[,ID...]", help="these assets")
    submit.add_argument("--limit", type=positive_int, help="at most this many assets")
    submit.add_argument("--model", help="model (default: gpt-4o-mini)")
    submit.add_argument(
        "--endpoint",
        default="/v1/chat/completions",
        choices=["/v1/chat/completions", "/v1/responses"],
        help="batch endpoint (default %(default)s)",
    )
    submit.add_argument(
        "--per-batch", type=positive_int, default=50_000, help="requests per batch (max 50000)"
    )
    submit.add_argument(
        "--metadata", action="append", metavar="KEY=VALUE", help="batch metadata (repeatable)"
    )

    status = sub.add_parser("status", parents=[common], help="pending batches and progress")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--all", action="store_true", help="include finished batches")
    status.add_argument("--limit", type=positive_int, default=50, help="rows with --all")
    status.add_argument(
        "--offline", action="store_true", help="show what is recorded, without asking the API"
    )

    retry = sub.add_parser("retry", parents=[common], help="resubmit what did not succeed")
    retry.add_argument("batch_id", metavar="BATCH_ID")

    cancel = sub.add_parser("cancel", parents=[common], help="cancel a running batch")
    cancel.add_argument("batch_id", metavar="BATCH_ID")

    runs = sub.add_parser("runs", parents=[common], help="recent poller runs (worker, pg_cron)")
    runs.add_argument("--limit", type=positive_int, default=20)
    runs.add_argument("--json", action="store_true", help="machine-readable output")

    worker = sub.add_parser("worker", parents=[common], help="the server-side poller")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument(
        "--interval", type=parse_duration, default=timedelta(seconds=60), help="default 60s"
    )
    worker.add_argument(
        "--min-age",
        type=parse_duration,
        default=timedelta(minutes=5),
        help="skip batches younger than this (default 5m)",
    )
    worker.add_argument(
        "--concurrency", type=positive_int, default=8, help="applies at once (default 8)"
    )
    worker.add_argument(
        "--lease", type=parse_duration, default=timedelta(minutes=5), help="claim lease (5m)"
    )
    worker.add_argument("--worker-id", help="name in the poll-run log (default host:pid)")

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("migrate", parents=[common], help="apply batchmon's SQL migrations")

    sim = sub.add_parser("sim", help="serve the OpenAI Batch API simulator")
    _add_sim_arguments(sim)

    hook = sub.add_parser(
        "webhook", parents=[common], help="receive OpenAI batch webhooks and apply at once"
    )
    _add_webhook_arguments(hook)
    return parser


def _add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    from batchmon.webhooks.serve import add_arguments

    add_arguments(parser)


def _add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    from batchmon.sim.serve import add_arguments

    add_arguments(parser)


def _command(args: argparse.Namespace) -> Command:
    from batchmon import cli_commands as c

    table: dict[str, Command] = {
        "submit": c.cmd_submit,
        "status": c.cmd_status,
        "retry": c.cmd_retry,
        "cancel": c.cmd_cancel,
        "runs": c.cmd_runs,
        "worker": c.cmd_worker,
        "db": c.cmd_db_migrate,
    }
    return table[args.command]


def _setup_logging(verbose: int, command: str) -> None:
    default = logging.INFO if command == "worker" else logging.WARNING
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else default
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("httpx", "httpx2", "openai", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _desktop(argv: list[str]) -> int:
    try:
        from batchmon.ui.app import main as desktop_main
    except ImportError as exc:
        print(
            f"batchmon: the desktop monitor is not available ({exc}). "
            "Use a command instead, e.g. `batchmon status` (see `batchmon --help`).",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return desktop_main(argv)


def _error(message: str) -> None:
    print(f"batchmon: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``batchmon`` script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not any(a in COMMANDS for a in args_list) and not {"-h", "--help", "--version"} & set(
        args_list
    ):
        return _desktop(args_list)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_USAGE
    if args.command is None:
        return _desktop(args_list)
    if args.command == "sim":
        from batchmon.sim.serve import run as run_sim

        return run_sim(args)
    if args.command == "webhook":
        _setup_logging(args.verbose, "worker")
        from batchmon.webhooks.serve import run as run_webhook

        return run_webhook(args)
    _setup_logging(args.verbose, args.command)
    return run_command(_command(args), args)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one async command and turn expected failures into a message and exit code."""
    from batchmon.config import ConfigError
    from batchmon.engine.retry import RetryNotPossible
    from batchmon.openai_batches import AuthenticationFailed, BatchApiError
    from batchmon.store.protocol import StoreError

    try:
        return asyncio.run(command(args))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_CONFIG
    except AuthenticationFailed as exc:
        _error(f"{exc.message}. {exc.hint}")
        return EXIT_CONFIG
    except RetryNotPossible as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BatchApiError as exc:
        _error(f"{exc.message}. {exc.hint}")
        return EXIT_ERROR
    except StoreError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        _error("aborted; claims were released")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
