"""`batchmon sim`: serve the simulator over HTTP with uvicorn.

Binds 127.0.0.1 unless told otherwise: the simulator has no business on a network.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from batchmon.core.tokens import parse_image_size

from .app import SimulatedDisconnect, create_app
from .clock import ScaledClock
from .faults import RATES, FaultConfig
from .lifecycle import Timing
from .queue import QueueLimits
from .script import DEFAULT_DURATION
from .simulator import Simulator
from .webhooks import WebhookEndpoint

DEFAULT_PORT = 8765
API_KEY_ENV = "BATCHMON_SIM_API_KEY"
WEBHOOK_SECRET_ENV = "BATCHMON_SIM_WEBHOOK_SECRET"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to `parser` (used by `batchmon sim` and `-m batchmon.sim`)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1; 60 makes a minute pass per second)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"require this bearer key (default: ${API_KEY_ENV}; unset accepts any key)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and faults")
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION,
        help="simulated seconds a batch spends in_progress unless sim_duration says otherwise",
    )
    hooks = parser.add_argument_group("webhooks (sent as OpenAI sends batch events)")
    hooks.add_argument(
        "--webhook-url",
        default=None,
        help="POST batch.completed/failed/expired/cancelled events to this URL",
    )
    hooks.add_argument(
        "--webhook-secret",
        default=os.environ.get(WEBHOOK_SECRET_ENV),
        help=f"signing secret, e.g. whsec_<base64> (default: ${WEBHOOK_SECRET_ENV})",
    )
    faults = parser.add_argument_group("fault injection (rates are probabilities 0..1)")
    faults.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    faults.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds")
    faults.add_argument(
        "--no-retry-after", action="store_true", help="send 429s without Retry-After headers"
    )
    faults.add_argument("--server-error-rate", type=float, default=0.0, help="share of 500/503")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    faults.add_argument(
        "--truncate-rate", type=float, default=0.0, help="share of truncated file downloads"
    )
    faults.add_argument("--latency-rate", type=float, default=0.0, help="share of slow responses")
    faults.add_argument("--latency-seconds", type=float, default=0.0, help="added latency")
    for name, help_text in (
        ("html", "share of 200s that are an HTML page"),
        ("broken-json", "share of 200s with JSON cut off"),
        ("wrong-shape", "share of 200s with JSON of the wrong shape"),
        ("empty-body", "share of downloads answered 200 with an empty body"),
        ("short-body", "share of downloads answered 200 with a quarter of the file"),
        ("cut-lines", "share of downloads ending cleanly after half of the lines"),
    ):
        faults.add_argument(f"--{name}-rate", type=float, default=0.0, help=help_text)
    faults.add_argument(
        "--fault-match", default=None, help='regex on "METHOD /v1/path" limiting where faults hit'
    )
    queue = parser.add_argument_group("queue and timing")
    queue.add_argument(
        "--enqueued-token-limit",
        action="append",
        default=[],
        metavar="MODEL=TOKENS",
        help="fail batches with token_limit_exceeded past this many enqueued prompt tokens",
    )
    queue.add_argument(
        "--image-size",
        metavar="WxH",
        help="pixel size of every image, for the queue's token count (default: the costliest)",
    )
    queue.add_argument(
        "--cancelling-seconds", type=float, default=5.0, help="simulated seconds in cancelling"
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def fault_config(args: argparse.Namespace) -> FaultConfig:
    """Every ``--*-rate`` option is the FaultConfig field of the same name."""
    rates: dict[str, Any] = {name: getattr(args, name) for name in RATES}
    return FaultConfig(
        seed=args.seed,
        retry_after=None if args.no_retry_after else args.retry_after,
        latency_seconds=args.latency_seconds,
        match=args.fault_match,
        **rates,
    )


def queue_limits(args: argparse.Namespace) -> QueueLimits:
    """Limits from repeated --enqueued-token-limit MODEL=TOKENS (ValueError if malformed)."""
    limits: dict[str, int] = {}
    for item in getattr(args, "enqueued_token_limit", []):
        model, sep, tokens = item.partition("=")
        if not sep or not tokens.strip().isdigit():
            raise ValueError(f"--enqueued-token-limit wants MODEL=TOKENS; got {item!r}")
        limits[model.strip()] = int(tokens)
    size = getattr(args, "image_size", None)
    return QueueLimits.from_dict({"enqueued_token_limits": limits, "image_size": _size(size)})


def _size(text: str | None) -> list[int] | None:
    """``640x480`` as [640, 480] (ValueError if malformed)."""
    if text is None:
        return None
    try:
        return list(parse_image_size(text))
    except ValueError as exc:
        raise ValueError(f"--image-size {exc}") from None


def webhook_endpoint(args: argparse.Namespace) -> WebhookEndpoint | None:
    """The endpoint from --webhook-url/--webhook-secret (ValueError says what is missing)."""
    url = getattr(args, "webhook_url", None)
    if not url:
        return None
    secret = getattr(args, "webhook_secret", None)
    if not secret:
        raise ValueError(
            f"--webhook-url needs a signing secret: pass --webhook-secret or set "
            f"{WEBHOOK_SECRET_ENV} (the receiver must be given the same secret)"
        )
    return WebhookEndpoint(url=url, secret=secret)


def build_simulator(args: argparse.Namespace) -> Simulator:
    return Simulator(
        ScaledClock(args.time_scale),
        api_key=args.api_key or None,
        faults=fault_config(args),
        seed=args.seed,
        default_duration=args.duration,
        webhook=webhook_endpoint(args),
        queue=queue_limits(args),
        timing=Timing(cancelling=getattr(args, "cancelling_seconds", 5.0)),
    )


class QuietSimulatedFaults(logging.Filter):
    """Log a scripted dropped connection as one line, not as a server crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SimulatedDisconnect):
            record.msg, record.args = "%s", (str(record.exc_info[1]),)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_simulated_faults() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietSimulatedFaults) for f in logger.filters):
        logger.addFilter(QuietSimulatedFaults())


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the process exit code."""
    import uvicorn

    try:
        sim = build_simulator(args)
    except ValueError as exc:
        print(f"batchmon sim: {exc}")
        return 2
    quiet_simulated_faults()
    key_note = "requires the configured API key" if sim.api_key else "accepts any API key"
    hook = sim.webhooks.endpoint
    hook_note = f"; webhooks to {hook.url}" if hook is not None else ""
    print(
        f"batchmon sim: OpenAI Batch API at http://{args.host}:{args.port}/v1 "
        f"(time x{args.time_scale:g}, {key_note}); control at /_sim{hook_note}",
        flush=True,
    )
    uvicorn.run(create_app(sim), host=args.host, port=args.port, log_level=args.log_level)
    return 0
