"""`batchmon webhook`: serve the webhook endpoint with uvicorn, wired to the engine.

Binds 127.0.0.1 by default: OpenAI needs a public HTTPS URL, which a reverse proxy
(nginx, Caddy) provides in front of this port. The store and the OpenAI client are
opened once and shared by every event for the life of the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from batchmon.exit_codes import EXIT_OK, exit_for
from batchmon.webhooks.app import DEFAULT_PATH, create_webhook_app

DEFAULT_PORT = 8787


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The endpoint's own options (connection options come from the caller's parser)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument(
        "--path", default=DEFAULT_PATH, help="URL path OpenAI posts to (default %(default)s)"
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted for X-Forwarded-For/-Proto (default %(default)s)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """--database-url and --base-url, for `python -m batchmon.webhooks`."""
    parser.add_argument("--database-url", metavar="URL", help="PostgreSQL URL")
    parser.add_argument("--base-url", metavar="URL", help="OpenAI API base URL")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the process exit code."""
    from batchmon.webhooks.secret_source import load_webhook_secrets

    try:
        secrets = load_webhook_secrets()
        return asyncio.run(serve(args, secrets))
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        return exit_for(exc, "batchmon webhook")


async def serve(args: argparse.Namespace, secrets: list[str]) -> int:
    """Open store and client, then run uvicorn on this loop until it stops."""
    import uvicorn

    from batchmon.webhooks.apply_on_event import ApplyOnEvent
    from batchmon.webhooks.verify import WebhookVerifier
    from batchmon.wiring import open_client, open_store, settings_from

    settings = settings_from(args)
    verifier = WebhookVerifier(secrets)
    try:
        async with open_store(settings) as opened, open_client(settings) as client:
            app = create_webhook_app(verifier, ApplyOnEvent(client, opened.store), path=args.path)
            config = uvicorn.Config(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                proxy_headers=True,
                forwarded_allow_ips=args.forwarded_allow_ips,
            )
            print(
                f"batchmon webhook: listening on http://{args.host}:{args.port}{args.path} "
                f"({verifier.secret_count} secret(s) accepted); put HTTPS in front of it",
                flush=True,
            )
            with _cleanup_after_signals():
                await uvicorn.Server(config).serve()
    finally:
        verifier.close()
    return EXIT_OK


@contextlib.contextmanager
def _cleanup_after_signals() -> Iterator[None]:
    """Let the store and the embedded database close after Ctrl-C or SIGTERM.

    uvicorn stops gracefully on these signals and then raises the signal again for the
    previous handler; with the default handlers that would end the process before the
    database is stopped. While serving, the previous handler only notes the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def noted(sig: int, frame: FrameType | None) -> None:
        pass

    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, noted) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
