"""Malformed 200 answers: what a client sees when something between it and the API breaks.

Each is a complete, well-framed HTTP response with status 200, so only a client that
checks what it received (not just the status) notices: an HTML page where JSON belongs,
JSON cut off, JSON of the wrong shape, and for file downloads an empty body, a short
body whose Content-Length agrees with it, or a body without Content-Length that ends
cleanly after half of its lines (uvicorn then frames it chunked; either way the client
reads a complete body that holds fewer lines than the file).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import Fault

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Service temporarily unavailable</title></head>"
    b"<body><h1>Service temporarily unavailable</h1><p>The server is down for maintenance. "
    b"Please try again later.</p></body></html>\n"
)
BROKEN_JSON = b'{"object": "list", "data": [{"id": "batch_'
_LIST_PATHS = ("/v1/batches", "/v1/files")


def _wrong_shape(path: str) -> bytes:
    """A list with `data: null` on list routes, a bare JSON string elsewhere."""
    if path.rstrip("/") in _LIST_PATHS:
        return json.dumps({"object": "list", "data": None, "has_more": False}).encode()
    return json.dumps("ok").encode()


async def _send(send: Send, body: bytes, content_type: bytes, *, length: bool = True) -> None:
    headers = [(b"content-type", content_type)]
    if length:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _shortened(kind: Fault, body: bytes) -> bytes:
    if kind is Fault.EMPTY_BODY:
        return b""
    if kind is Fault.SHORT_BODY:
        return body[: len(body) // 4]
    lines = body.splitlines(keepends=True)
    return b"".join(lines[: len(lines) // 2])


async def send_malformed(
    kind: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer the request with a malformed 200 of `kind`."""
    if kind is Fault.HTML:
        await _send(send, HTML_PAGE, b"text/html; charset=utf-8")
        return
    if kind is Fault.BROKEN_JSON:
        await _send(send, BROKEN_JSON, b"application/json")
        return
    if kind is Fault.WRONG_SHAPE:
        await _send(send, _wrong_shape(scope["path"]), b"application/json")
        return
    # Download kinds: fetch the real content, then hand back less of it. A refusal (404)
    # passes through unchanged: only a real 200 is shortened.
    start: Message = {}
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    body = b"".join(chunks)
    if start.get("status") != 200:
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return
    shortened = _shortened(kind, body)
    await _send(send, shortened, b"application/octet-stream", length=kind is not Fault.CUT_LINES)
