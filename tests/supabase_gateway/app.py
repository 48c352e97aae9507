"""The gateway: Supabase's Auth, PostgREST RPC and Realtime endpoints on one loopback port.

Served by uvicorn on 127.0.0.1 inside the test's own event loop, backed by the test's
real PostgreSQL. Tests steer it like an operator would steer Supabase: drop every
realtime socket, refuse new ones for a while, or run the clock past token expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from tests.supabase_gateway import auth, realtime, rest, tables
from tests.supabase_gateway.changes import CAPTURE_CHANNEL, RowChange, install_capture
from tests.supabase_gateway.db import as_claims, role_settings
from tests.supabase_gateway.tokens import TokenAuthority

#: PostgREST's ``db-max-rows`` on Supabase: the most rows one response carries.
DB_MAX_ROWS = 1000


class Gateway:
    """A loopback stand-in for a Supabase project, speaking the real wire protocols."""

    def __init__(
        self,
        database_url: str,
        *,
        rest_url: str | None = None,
        max_rows: int | None = DB_MAX_ROWS,
        token_ttl: int = 3600,
    ) -> None:
        """``database_url`` is Realtime's login (a superuser, like ``supabase_admin``);
        ``rest_url`` PostgREST's (``authenticator``), by default the same."""
        self.database_url = database_url
        self.max_rows = max_rows
        self.tokens = TokenAuthority(token_ttl=token_ttl)
        self.pool = AsyncConnectionPool(database_url, min_size=1, max_size=8, open=False)
        self.rest_pool = AsyncConnectionPool(
            rest_url or database_url, min_size=1, max_size=8, open=False
        )
        self._role_settings: dict[str, dict[str, str]] = {}
        # Realtime's per-project limit (``max_events_per_second``, 100 on Supabase), off
        # unless a test sets it: past it, nothing is delivered to anyone for a while.
        self.max_events_per_second: int | None = None
        self.rate_limit_pause = 10.0
        self._window = (0.0, 0)  # (start of the current second, deliveries in it)
        self._paused_until = 0.0
        self.connections: set[realtime.RealtimeConnection] = set()
        self.refuse_realtime = False
        self.rpc_calls: list[str] = []
        self.columns: dict[str, list[dict[str, str]]] = {}
        self.streamed_tables: list[str] = []
        self.counts: Counter[str] = Counter()
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[Any]] = []
        self._server: uvicorn.Server | None = None
        self.url = ""

    @property
    def anon_key(self) -> str:
        return self.tokens.anon_key

    @property
    def service_role_key(self) -> str:
        return self.tokens.service_role_key

    def app(self) -> Starlette:
        app = Starlette(
            routes=[
                Route("/auth/v1/token", auth.token, methods=["POST"]),
                Route("/auth/v1/user", auth.user, methods=["GET"]),
                Route("/auth/v1/logout", auth.logout, methods=["POST"]),
                Route("/rest/v1/rpc/{fn}", rest.rpc, methods=["POST"]),
                Route("/rest/v1/{table}", tables.table, methods=["GET", "POST", "PATCH", "DELETE"]),
                WebSocketRoute("/realtime/v1/websocket", realtime.websocket_endpoint),
            ]
        )
        app.state.gateway = self
        return app

    def check_api_key(self, request: Request) -> Response | None:
        """Supabase's API gateway refuses any request without a valid project key."""
        key = request.headers.get("apikey")
        if not key:
            return JSONResponse({"message": "No API key found in request"}, status_code=401)
        if not self.tokens.is_api_key(key):
            return JSONResponse({"message": "Invalid API key"}, status_code=401)
        return None

    @asynccontextmanager
    async def as_request(
        self, claims: dict[str, Any], *, read_only: bool = False
    ) -> AsyncIterator[psycopg.AsyncConnection]:
        """A PostgREST request's transaction: role switched, claims and role settings set."""
        role = str(claims.get("role") or "anon")
        if role not in self._role_settings:
            async with self.rest_pool.connection() as conn:
                self._role_settings[role] = await role_settings(conn, role)
        async with as_claims(
            self.rest_pool, claims, read_only=read_only, settings=self._role_settings[role]
        ) as conn:
            yield conn

    def may_deliver(self) -> bool:
        """Count one delivery against the project's event budget; False: dropped."""
        if self.max_events_per_second is None:
            return True
        now = asyncio.get_running_loop().time()
        if now < self._paused_until:
            return False
        start, used = self._window
        if now - start >= 1.0:
            start, used = now, 0
        self._window = (start, used + 1)
        if used + 1 > self.max_events_per_second:
            self._paused_until = now + self.rate_limit_pause
            return False
        return True

    async def note(self, **counts: int) -> None:
        async with self._changed:
            self.counts.update(counts)
            self._changed.notify_all()

    async def wait_until(
        self, predicate: Callable[[Counter[str]], bool], within: float = 10.0
    ) -> None:
        """Wait until the gateway's counters satisfy ``predicate`` (no polling)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.counts)), within)

    async def start(self) -> None:
        await self.pool.open(wait=True)
        await self.rest_pool.open(wait=True)
        async with self.pool.connection() as conn:
            self.streamed_tables = await install_capture(conn)
        listener = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        await listener.execute(f"listen {CAPTURE_CHANNEL}")
        self._tasks.append(asyncio.create_task(self._pump(listener)))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            ws="websockets-sansio",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(sockets=[sock])))

    async def _pump(self, listener: psycopg.AsyncConnection) -> None:
        async with listener:
            async for notify in listener.notifies():
                change = RowChange.from_notify(notify.payload)
                columns = await realtime.columns_cached(self, change.schema, change.table)
                for conn in list(self.connections):
                    with contextlib.suppress(Exception):  # a socket closing mid-send
                        await conn.deliver(change, columns)
                await self.note(changes=1)

    async def drop_realtime(self, code: int = 1012) -> None:
        """Close every realtime socket from the server side, as a Realtime restart does."""
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)
            self.connections.discard(conn)
        await self.note(drops=1)

    async def send_raw_change(self, data: dict[str, Any]) -> None:
        """Send a ``postgres_changes`` frame with arbitrary ``data`` to every subscriber.

        This is how tests deliver an event the client cannot read.
        """
        for conn in list(self.connections):
            for sub in list(conn.channels.values()):
                ids = [b.id for b in sub.bindings if b.table in (None, "*", data.get("table"))]
                await conn.send(sub.topic, "postgres_changes", {"data": data, "ids": ids})

    async def expire_tokens(self, seconds: float = 7200) -> None:
        """Run the gateway's clock ahead; channels whose token expired are shut down."""
        self.tokens.advance(seconds)
        for conn in list(self.connections):
            await conn.expire_check()

    async def stop(self) -> None:
        await self.drop_realtime(code=1001)
        if self._server is not None:
            self._server.should_exit = True
        for task in reversed(self._tasks):
            if task is not self._tasks[-1]:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.close()
        await self.rest_pool.close()
