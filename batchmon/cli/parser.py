"""The ``batchmon`` command line: every subcommand, its options and their limits.

Building the parser imports no engine, store or Qt code, so ``batchmon --help`` and a
usage error answer at once.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from batchmon import __version__
from batchmon.cli.arg_types import (
    duration_at_least,
    image_size,
    job_id,
    parse_duration,
    positive_int,
    usd,
)
from batchmon.core.formatting import format_duration
from batchmon.desktop_options import add_desktop_arguments

COMMANDS = (
    "submit",
    "jobs",
    "status",
    "retry",
    "cancel",
    "runs",
    "worker",
    "db",
    "sim",
    "webhook",
)

MIN_INTERVAL = timedelta(seconds=1)
"""Shortest pause between the long-running worker's passes. Each pass lists batches from
the API; ``0s`` would loop as fast as the API answers (thousands of requests a minute)
and spend the rate limit without finding news sooner. One pass a second is the most a
server-side poller can use (the desktop polls every 2 s)."""

MIN_LEASE = timedelta(seconds=30)
"""Shortest claim lease. A pass holds its claims until it ends, so the lease must outlast
the longest pass (the worker warns when a pass took longer); below 30 s a single slow
download would let another worker take the same batch."""

_LEAST_INTERVAL = format_duration(MIN_INTERVAL.total_seconds())
_LEAST_LEASE = format_duration(MIN_LEASE.total_seconds())


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
    """The whole command line; ``batchmon`` without a command starts the desktop."""
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
    _add_batch_commands(sub, common)

    runs = sub.add_parser("runs", parents=[common], help="recent poller runs (worker, pg_cron)")
    runs.add_argument("--limit", type=positive_int, default=20)
    runs.add_argument("--json", action="store_true", help="machine-readable output")

    _add_worker_arguments(sub.add_parser("worker", parents=[common], help="the server-side poller"))

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("migrate", parents=[common], help="apply batchmon's SQL migrations")

    from batchmon.sim.serve import add_arguments as add_sim_arguments

    add_sim_arguments(sub.add_parser("sim", help="serve the OpenAI Batch API simulator"))

    from batchmon.webhooks.serve import add_arguments as add_webhook_arguments

    add_webhook_arguments(
        sub.add_parser(
            "webhook", parents=[common], help="receive OpenAI batch webhooks and apply at once"
        )
    )
    return parser


def _add_batch_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
        "--max-cost",
        type=usd,
        metavar="USD",
        help="budget: no further batch is submitted once the job's estimate would pass it",
    )
    submit.add_argument(
        "--attempts",
        type=positive_int,
        default=2,
        help="resubmissions of expired and retryable failures (default %(default)s)",
    )
    submit.add_argument(
        "--image-size",
        type=image_size,
        default=argparse.SUPPRESS,
        metavar="WxH",
        help=(
            "pixel size of the images, for the plan's tokens and cost, or 'unknown' "
            "for the costliest (default: the image_size setting, else the costliest)"
        ),
    )
    submit.add_argument(
        "-y", "--yes", action="store_true", help="submit without asking (on a terminal)"
    )
    submit.add_argument(
        "--per-batch", type=positive_int, default=50_000, help="requests per batch (max 50000)"
    )
    submit.add_argument(
        "--direct",
        action="store_true",
        help="no job: create every batch now in fixed --per-batch splits, ignoring the queue",
    )
    submit.add_argument(
        "--metadata",
        action="append",
        metavar="KEY=VALUE",
        help="batch metadata (repeatable; with --direct)",
    )
    submit.set_defaults(usage_error=submit.error)

    status = sub.add_parser("status", parents=[common], help="pending batches and progress")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--all", action="store_true", help="include finished batches")
    status.add_argument("--limit", type=positive_int, default=50, help="rows with --all")
    status.add_argument(
        "--offline", action="store_true", help="show what is recorded, without asking the API"
    )

    retry = sub.add_parser("retry", parents=[common], help="resubmit what did not succeed")
    retry.add_argument("batch_id", metavar="BATCH_ID")
    retry.add_argument(
        "--include-permanent",
        action="store_true",
        help="also resend permanent failures (bad image URL, refused content) unchanged",
    )

    cancel = sub.add_parser("cancel", parents=[common], help="cancel a running batch")
    cancel.add_argument("batch_id", metavar="BATCH_ID")
    _add_job_commands(sub, common)


def _add_job_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    jobs = sub.add_parser(
        "jobs", parents=[common], help="jobs: progress, queue, cost, ETA (show ID, cancel ID)"
    )
    jobs.add_argument("--json", action="store_true", help="machine-readable output")
    jobs.add_argument("--limit", type=positive_int, default=50, help="most recent jobs shown")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    show = actions.add_parser("show", parents=[common], help="one job and its batches")
    show.add_argument("job_id", metavar="JOB_ID", type=job_id)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    cancel = actions.add_parser(
        "cancel", parents=[common], help="drop queued batches, cancel running ones"
    )
    cancel.add_argument("job_id", metavar="JOB_ID", type=job_id)
    limits = actions.add_parser(
        "limits",
        parents=[common],
        help="each model's enqueued-token limit and where it came from; MODEL TOKENS sets it",
    )
    limits.add_argument("model", metavar="MODEL", nargs="?", help="the model to configure")
    limits.add_argument(
        "tokens", metavar="TOKENS", nargs="?", type=positive_int, help="its enqueued-token limit"
    )
    limits.add_argument(
        "--clear", action="store_true", help="forget MODEL's stored limit: its default applies"
    )
    limits.add_argument("--json", action="store_true", help="machine-readable output")
    limits.set_defaults(usage_error=limits.error)


def _add_worker_arguments(worker: argparse.ArgumentParser) -> None:
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument(
        "--interval",
        type=parse_duration,
        default=timedelta(seconds=60),
        help="pause between passes, and how long a checked batch rests (default 60s, at "
        f"least {_LEAST_INTERVAL}; with --once there is no pause, and 0s checks every batch)",
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
        "--lease",
        type=duration_at_least(MIN_LEASE, "it must outlast a pass"),
        default=timedelta(minutes=5),
        help=f"how long a claim holds (default 5m, at least {_LEAST_LEASE}; longer than a pass)",
    )
    worker.add_argument("--worker-id", help="name in the poll-run log (default host:pid)")
    worker.set_defaults(usage_error=worker.error)


def check_submit_arguments(args: argparse.Namespace) -> None:
    """``--metadata`` names the batches ``--direct`` creates; a job's batches carry the
    job's own metadata (argparse error, exit 2)."""
    if args.command == "submit" and args.metadata and not args.direct:
        args.usage_error("argument --metadata: only with --direct (a job's batches carry its id)")


def check_limits_arguments(args: argparse.Namespace) -> None:
    """``jobs limits`` lists, ``MODEL TOKENS`` configures, ``MODEL --clear`` forgets."""
    if args.command != "jobs" or getattr(args, "jobs_command", None) != "limits":
        return
    if args.model is not None and args.tokens is None and not args.clear:
        args.usage_error("give TOKENS to configure the limit, or --clear to forget it")
    if args.model is None and args.clear:
        args.usage_error("argument --clear: needs a MODEL")
    if args.clear and args.tokens is not None:
        args.usage_error("argument --clear: give TOKENS or --clear, not both")


def check_worker_arguments(args: argparse.Namespace) -> None:
    """Refuse a pause too short for the long-running worker (argparse error, exit 2).

    Checked after parsing because it depends on ``--once``: a single pass has no pause,
    and there ``--interval`` only says how long a checked batch rests.
    """
    if args.command == "worker" and not args.once and args.interval < MIN_INTERVAL:
        args.usage_error(
            f"argument --interval: {args.interval.total_seconds():g}s is too short: "
            f"at least {_LEAST_INTERVAL} between passes (each pass sends requests to the API)"
        )
