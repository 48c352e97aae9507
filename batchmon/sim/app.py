"""The HTTP face of the simulator: OpenAI's routes under /v1, control under /_sim.

create_app(sim) returns a Starlette app that can be served by uvicorn or mounted
in-process with httpx2.ASGITransport. The outer middleware does what the real service
does around every call: check the key, then (when configured) inject faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, bad_request, unauthorized
from .faults import FaultConfig
from .malformed import send_malformed
from .params import expiration_seconds
from .simulator import Simulator
from .webhooks import WebhookConfigError, WebhookEndpoint

CHUNK = 64 * 1024
_BATCH_CREATE_KEYS = {
    "input_file_id",
    "endpoint",
    "completion_window",
    "metadata",
    "output_expires_after",
}


class SimulatedDisconnect(httpx2.RemoteProtocolError):
    """Raised to make the server drop a connection mid-response (a scripted fault).

    uvicorn closes the socket, so a remote client sees the peer hang up. In-process
    (httpx2.ASGITransport) the exception itself reaches the client, and being httpx2's
    own RemoteProtocolError it looks exactly like the same network failure.
    """


# -- request helpers ------------------------------------------------------------------


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(
            f"We could not parse the JSON body of your request ({exc}). The body must be "
            "a JSON object."
        ) from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': expected an integer.", param=name) from None


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


def _answer_with(method: Callable[..., dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
    """A route answering with what ``method`` returns for the route's path parameters.

    Most routes only name an object; the simulator's method does the rest, 404s included.
    """

    async def endpoint(request: Request) -> Response:
        return JSONResponse(method(*request.path_params.values()))

    endpoint.__name__ = method.__name__
    return endpoint


# -- /v1/files ------------------------------------------------------------------------


async def upload_file(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_request("Uploads must be sent as multipart/form-data with 'file' and 'purpose'.")
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise bad_request("Missing required parameter: 'file'.", param="file")
        if not isinstance(purpose, str):
            raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
        anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
        data = await upload.read()
        filename = upload.filename or "upload"
    policy = None if anchor is None and seconds is None else {"anchor": anchor, "seconds": seconds}
    ttl = expiration_seconds(policy, "expires_after")
    return JSONResponse(_sim(request).upload_file(data, filename, purpose, expires_after=ttl))


async def list_files(request: Request) -> Response:
    body = _sim(request).list_files(
        purpose=request.query_params.get("purpose"),
        limit=_int_param(request, "limit", 10_000),
        order=request.query_params.get("order", "desc"),
        after=request.query_params.get("after"),
    )
    return JSONResponse(body)


async def file_content(request: Request) -> Response:
    data = _sim(request).file_content(request.path_params["file_id"])

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"content-length": str(len(data))},
    )


# -- /v1/batches ----------------------------------------------------------------------


async def create_batch(request: Request) -> Response:
    body = await _json_object(request)
    unknown = sorted(set(body) - _BATCH_CREATE_KEYS)
    if unknown:
        raise bad_request(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str):
            raise bad_request(f"Missing required parameter: '{name}'.", param=name)
    metadata = body.get("metadata")
    batch = _sim(request).create_batch(
        input_file_id=body["input_file_id"],
        endpoint=body["endpoint"],
        completion_window=body["completion_window"],
        metadata=metadata,
        output_expires_after=expiration_seconds(
            body.get("output_expires_after"), "output_expires_after"
        ),
    )
    return JSONResponse(batch)


async def list_batches(request: Request) -> Response:
    body = _sim(request).list_batches(
        limit=_int_param(request, "limit", 20), after=request.query_params.get("after")
    )
    return JSONResponse(body)


# -- /_sim control --------------------------------------------------------------------


async def advance_clock(request: Request) -> Response:
    body = await _json_object(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise bad_request("'seconds' must be a number >= 0.", param="seconds")
    sim = _sim(request)
    now = sim.advance(float(seconds))
    answer: dict[str, Any] = {"now": now}
    if sim.webhooks.endpoint is not None:
        # Deliver what this advance finished before answering: a caller driving time by
        # hand sees the events sent (or their retries scheduled) when advance returns.
        attempts = await sim.webhooks.deliver_due()
        answer["webhooks_sent"] = sum(1 for a in attempts if a.ok)
    return JSONResponse(answer)


async def webhooks(request: Request) -> Response:
    """GET: delivery state; POST {url, secret}: send events there ({"url": null} stops)."""
    sim = _sim(request)
    if request.method == "POST":
        body = await _json_object(request)
        url, secret = body.get("url"), body.get("secret")
        if url is None:
            sim.webhooks.configure(None)
        else:
            if not isinstance(url, str):
                raise bad_request("'url' must be an http(s) URL string or null.", param="url")
            if not isinstance(secret, str) or not secret:
                raise bad_request("'secret' must be a non-empty string.", param="secret")
            try:
                sim.webhooks.configure(WebhookEndpoint(url=url, secret=secret))
            except WebhookConfigError as exc:
                raise bad_request(str(exc)) from exc
    return JSONResponse(sim.webhooks.state())


async def faults(request: Request) -> Response:
    sim = _sim(request)
    if request.method == "POST":
        try:
            config = FaultConfig.from_dict(await _json_object(request))
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        sim.faults.configure(config)
    return JSONResponse(sim.faults.config.to_dict())


async def config(request: Request) -> Response:
    """GET: queue limits and timing; POST: change them (omitted keys stay as they are)."""
    sim = _sim(request)
    if request.method == "POST":
        body = await _json_object(request)
        unknown = sorted(set(body) - {"queue", "cancelling_seconds"})
        if unknown:
            raise bad_request(f"unknown settings: {', '.join(unknown)}", param=unknown[0])
        try:
            sim.configure(
                queue=body.get("queue"), cancelling_seconds=body.get("cancelling_seconds")
            )
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
    state = sim.state()
    return JSONResponse({"queue": state["queue"], "timing": state["timing"]})


async def script_batch(request: Request) -> Response:
    changes = await _json_object(request)
    return JSONResponse(_sim(request).script_batch(request.path_params["batch_id"], changes))


# -- errors ---------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    else:
        message = str(exc.detail)
    return ApiError(exc.status_code, message).response()


# -- the outer middleware: auth and faults --------------------------------------------


class GateMiddleware:
    """Checks the API key, then injects the configured faults into /v1 calls."""

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sim = self.sim
        sim.requests_served += 1
        send = _with_request_id(send, sim.request_id(sim.requests_served))
        path: str = scope["path"]
        if sim.api_key is not None and not _authorized(scope, sim.api_key):
            provided = any(k == b"authorization" for k, _ in scope["headers"])
            await unauthorized(provided).response()(scope, receive, send)
            return
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        decision = sim.faults.decide(scope["method"], path)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.error is not None:
            await decision.error.response()(scope, receive, send)
            return
        if decision.drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"512"),
                    ],
                }
            )
            raise SimulatedDisconnect(f"simulated dropped connection on {scope['method']} {path}")
        if decision.malformed is not None:
            await send_malformed(decision.malformed, self.app, scope, receive, send)
            return
        if decision.truncate:
            await self.app(scope, receive, _truncating(send))
            return
        await self.app(scope, receive, send)


def _authorized(scope: Scope, api_key: str) -> bool:
    for key, value in scope["headers"]:
        if key == b"authorization":
            return bool(value.decode("latin-1") == f"Bearer {api_key}")
    return False


def _with_request_id(send: Send, request_id: str) -> Send:
    """Add `x-request-id`, which OpenAI sends on every response, to the response start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
            headers.append((b"x-request-id", request_id.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _truncating(send: Send) -> Send:
    """Pass through at most half of a declared Content-Length, then drop the connection."""
    state = {"allowed": 0, "sent": 0}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            for key, value in message.get("headers", []):
                if key.lower() == b"content-length":
                    state["allowed"] = int(value) // 2
            await send(message)
            return
        if message["type"] == "http.response.body":
            body: bytes = message.get("body", b"")
            room = state["allowed"] - state["sent"]
            if len(body) >= room:
                if room > 0:
                    cut = {"type": "http.response.body", "body": body[:room], "more_body": True}
                    await send(cut)
                raise SimulatedDisconnect("simulated truncated download")
            state["sent"] += len(body)
        await send(message)

    return wrapped


def create_app(sim: Simulator) -> Starlette:
    """The ASGI app serving `sim`: OpenAI routes under /v1, control routes under /_sim."""
    v1 = [
        Route("/files", upload_file, methods=["POST"]),
        Route("/files", list_files, methods=["GET"]),
        Route("/files/{file_id}", _answer_with(sim.get_file), methods=["GET"]),
        Route("/files/{file_id}", _answer_with(sim.delete_file), methods=["DELETE"]),
        Route("/files/{file_id}/content", file_content, methods=["GET"]),
        Route("/batches", create_batch, methods=["POST"]),
        Route("/batches", list_batches, methods=["GET"]),
        Route("/batches/{batch_id}", _answer_with(sim.get_batch), methods=["GET"]),
        Route("/batches/{batch_id}/cancel", _answer_with(sim.cancel_batch), methods=["POST"]),
    ]
    control = [
        Route("/clock/advance", advance_clock, methods=["POST"]),
        Route("/faults", faults, methods=["GET", "POST"]),
        Route("/config", config, methods=["GET", "POST"]),
        Route("/batches/{batch_id}/script", script_batch, methods=["POST"]),
        Route("/state", _answer_with(sim.state), methods=["GET"]),
        Route("/webhooks", webhooks, methods=["GET", "POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Transitions happen lazily; while served, a small loop notices them and
        # delivers webhooks (it idles when no endpoint is configured).
        task = asyncio.create_task(sim.webhooks.run(), name="sim-webhooks")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        routes=[Mount("/v1", routes=v1), Mount("/_sim", routes=control)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.sim = sim
    app.add_middleware(GateMiddleware, sim=sim)
    return app
