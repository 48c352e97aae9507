"""Serving an ASGI app with uvicorn on a real 127.0.0.1 socket, started without polling."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT = 10.0


def reserve_port() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port: connections are refused until served."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


class SignallingServer(uvicorn.Server):
    """A uvicorn server that sets ``ready`` once it listens (or failed to start).

    ``ready`` is a ``threading.Event`` for a server run in a thread of its own, an
    ``asyncio.Event`` for one run as a task in the test's loop.
    """

    def __init__(self, config: uvicorn.Config, ready: threading.Event | asyncio.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


@contextmanager
def served_in_thread(app: ASGIApp, name: str) -> Iterator[str]:
    """Serve ``app`` from a daemon thread on a free port; yield its root URL once it listens.

    For fixtures that are not async: the thread has its own event loop, so a synchronous
    test (or one on any loop) can reach the server over a real socket.
    """
    sock = reserve_port()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    ready = threading.Event()
    server = SignallingServer(config, ready)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        if not ready.wait(STARTUP_TIMEOUT) or not server.started:
            raise RuntimeError(f"{name} did not start listening on 127.0.0.1")
        yield f"http://127.0.0.1:{port_of(sock)}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()
