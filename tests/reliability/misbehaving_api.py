"""An OpenAI-shaped server that misbehaves on purpose, in front of the real simulator.

Every request goes to ``batchmon.sim``; answers matching a :class:`Corruption` are
changed the way real deployments change them: a proxy's HTML page or an empty body with
200, JSON cut off mid-object, an object of the wrong shape, a body that ends cleanly at a
line boundary with half the lines missing, a 404 for a batch or file that vanished, a
429 with a long ``Retry-After``, or a batch rewritten to have failed with
``token_limit_exceeded``; or it holds an answer until the test lets it go. It is served
by uvicorn on a loopback port, so the real ``openai`` client talks to it over a real
socket.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchmon.sim import Simulator, create_app
from batchmon.sim.serve import quiet_simulated_faults
from tests.fixtures.sim import SIM_API_KEY
from tests.helpers.loopback import served_in_thread

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]

Kind = Literal[
    "html",
    "broken_json",
    "wrong_shape",
    "empty",
    "cut_at_line",
    "not_found",
    "rate_limited",
    "token_limit",
    "hold",
]

HOLD_TIMEOUT = 60.0
HTML_PAGE = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>\n"
TOKEN_LIMIT_MESSAGE = (
    "Enqueued token limit reached for gpt-4o-mini in organization org-sim. Limit: "
    "2,000,000 enqueued tokens. Please try again once some in_progress batches have "
    "been completed."
)


@dataclass
class Corruption:
    """Change the next ``times`` answers to requests matching ``pattern`` ("GET /v1/...")."""

    kind: Kind
    pattern: str
    times: int = 1
    retry_after: float | None = None
    keep_lines: int | None = None
    used: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def matches(self, request_line: str) -> bool:
        return self.used < self.times and re.search(self.pattern, request_line) is not None


@dataclass
class MisbehavingApi:
    """ASGI app: the simulator's answers, corrupted by the first matching rule."""

    app: ASGIApp
    rules: list[Corruption] = field(default_factory=list)
    corrupted: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: Kind, pattern: str, **options: Any) -> Corruption:
        rule = Corruption(kind, pattern, **options)
        self.rules.append(rule)
        return rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        line = f"{scope['method']} {scope['path']}"
        rule = next((r for r in self.rules if r.matches(line)), None)
        if rule is None:
            await self.app(scope, receive, send)
            return
        rule.used += 1
        self.corrupted.append((rule.kind, line))
        if rule.kind == "hold":  # answered unchanged, once the test releases it
            rule.arrived.set()
            await asyncio.to_thread(rule.release.wait, HOLD_TIMEOUT)
            await self.app(scope, receive, send)
            return
        status, headers, body = await _answer_of(self.app, scope, receive)
        status, headers, body = _corrupt(rule, status, headers, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _answer_of(app: ASGIApp, scope: Scope, receive: Receive) -> Answer:
    """Run the request on the simulator and collect its whole answer."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return int(start["status"]), list(start.get("headers", [])), b"".join(chunks)


def _headers(
    content_type: bytes, body: bytes | None, extra: dict[bytes, bytes] | None = None
) -> list:
    headers = [(b"content-type", content_type), (b"x-request-id", b"req_misbehaving")]
    if body is not None:
        headers.append((b"content-length", str(len(body)).encode()))
    headers.extend((extra or {}).items())
    return headers


def _error(status: int, code: str, message: str, extra: dict[bytes, bytes] | None = None) -> tuple:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    ).encode()
    return status, _headers(b"application/json", body, extra), body


def _corrupt(rule: Corruption, status: int, headers: Headers, body: bytes) -> Answer:
    json_type = b"application/json"
    if rule.kind == "html":
        return 200, _headers(b"text/html; charset=utf-8", HTML_PAGE), HTML_PAGE
    if rule.kind == "broken_json":
        cut = body[: max(1, len(body) // 2)]
        return 200, _headers(json_type, cut), cut
    if rule.kind == "wrong_shape":
        shaped = b'{"object": "list", "data": null, "id": null}'
        return 200, _headers(json_type, shaped), shaped
    if rule.kind == "empty":
        kept = [(k, v) for k, v in headers if k.lower() == b"content-type"]
        return 200, [*kept, (b"content-length", b"0")], b""
    if rule.kind == "cut_at_line":
        lines = body.splitlines(keepends=True)
        keep = rule.keep_lines if rule.keep_lines is not None else len(lines) // 2
        kept = [(k, v) for k, v in headers if k.lower() == b"content-type"]
        return 200, kept, b"".join(lines[:keep])  # no length: ends where it is cut
    if rule.kind == "not_found":
        return _error(404, "not_found", "No such File object or batch: it does not exist.")
    if rule.kind == "rate_limited":
        extra = {b"retry-after": f"{rule.retry_after or 120:g}".encode()}
        return _error(429, "rate_limit_exceeded", "Rate limit reached for requests.", extra)
    rewritten = _token_limit(body)
    return status, _headers(json_type, rewritten), rewritten


def _token_limit(body: bytes) -> bytes:
    """A failed batch (every batch in a list) as OpenAI reports a full queue."""
    data = json.loads(body)
    for batch in data.get("data", [data]) if isinstance(data, dict) else []:
        if isinstance(batch, dict) and batch.get("status") == "failed":
            batch["errors"] = {
                "object": "list",
                "data": [
                    {
                        "code": "token_limit_exceeded",
                        "message": TOKEN_LIMIT_MESSAGE,
                        "param": None,
                        "line": None,
                    }
                ],
            }
    return json.dumps(data).encode()


@dataclass(frozen=True)
class LiveMisbehavingApi:
    """The misbehaving server on loopback: its base URL, its rules, the simulator behind."""

    base_url: str
    api: MisbehavingApi
    simulator: Simulator
    api_key: str = SIM_API_KEY


def serve(simulator: Simulator) -> Iterator[LiveMisbehavingApi]:
    """Serve a :class:`MisbehavingApi` over the simulator until the generator closes."""
    quiet_simulated_faults()
    api = MisbehavingApi(create_app(simulator))
    with served_in_thread(api, "misbehaving-api") as root:
        yield LiveMisbehavingApi(f"{root}/v1", api, simulator)
