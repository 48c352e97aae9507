"""``batchmon``: the composition root. Parses the command line, runs a command, maps errors.

With no subcommand (or ``--demo``) it starts the desktop monitor. Exit codes are the
package-wide table in :mod:`batchmon.exit_codes`, re-exported as
:mod:`batchmon.cli.exit_codes`: 0 ok, 1 an operation failed, 2 usage error,
3 configuration error, 130 interrupted. Errors a person can act on print one clear line
(with what to do), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from batchmon.cli.commands import Command, command_for
from batchmon.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, exit_for
from batchmon.cli.parser import (
    COMMANDS,
    build_parser,
    check_limits_arguments,
    check_submit_arguments,
    check_worker_arguments,
)

__all__ = ["build_parser", "main", "run_command"]


def _setup_logging(verbose: int, command: str) -> None:
    default = logging.INFO if command in ("worker", "webhook") else logging.WARNING
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


def _parse(args_list: list[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code argparse chose (help, version, usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        check_worker_arguments(args)
        check_submit_arguments(args)
        check_limits_arguments(args)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_USAGE
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``batchmon`` script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not any(a in COMMANDS for a in args_list) and not {"-h", "--help", "--version"} & set(
        args_list
    ):
        return _desktop(args_list)
    args = _parse(args_list)
    if isinstance(args, int):
        return args
    if args.command is None:
        return _desktop(args_list)
    if args.command == "sim":
        from batchmon.sim.serve import run as run_sim

        return run_sim(args)
    _setup_logging(args.verbose, args.command)
    if args.command == "webhook":
        from batchmon.webhooks.serve import run as run_webhook

        return run_webhook(args)
    return run_command(command_for(args.command), args)


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one async command and turn expected failures into a message and exit code."""
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        _error("aborted; claims were released")
        return EXIT_INTERRUPTED
    except Exception as exc:
        return exit_for(exc, "batchmon")
