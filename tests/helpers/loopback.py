"""Serving an ASGI app with uvicorn on a real 127.0.0.1 socket, started without polling."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

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
