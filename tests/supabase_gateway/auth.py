"""``/auth/v1``: the Supabase Auth (GoTrue) endpoints supabase-py calls for a password user."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.supabase_gateway.tokens import AuthRefused, TokenError

if TYPE_CHECKING:
    from tests.supabase_gateway.app import Gateway


def gotrue_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "error_code": code, "msg": message}, status_code=status)


async def token(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    denied = gateway.check_api_key(request)
    if denied is not None:
        return denied
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return gotrue_error(400, "bad_json", "Could not parse request body as JSON")
    grant = request.query_params.get("grant_type")
    try:
        if grant == "password":
            session = gateway.tokens.sign_in(str(body.get("email")), str(body.get("password")))
        elif grant == "refresh_token":
            session = gateway.tokens.refresh(str(body.get("refresh_token")))
        else:
            return gotrue_error(400, "validation_failed", f"unsupported grant_type {grant!r}")
    except AuthRefused as exc:
        return gotrue_error(exc.status, exc.code, exc.message)
    await gateway.note(tokens_issued=1)
    return JSONResponse(session)


def _signed_in(request: Request) -> tuple[Gateway, dict[str, object]] | Response:
    """The gateway and the bearer token's claims, or GoTrue's refusal (key first, then token)."""
    gateway: Gateway = request.app.state.gateway
    denied = gateway.check_api_key(request)
    if denied is not None:
        return denied
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return gotrue_error(401, "no_authorization", "This endpoint requires a Bearer token")
    try:
        claims = gateway.tokens.verify(header[7:])
    except TokenError as exc:
        return gotrue_error(
            403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}"
        )
    if claims.get("role") != "authenticated":
        return gotrue_error(403, "bad_jwt", "invalid claim: missing sub claim")
    return gateway, claims


async def user(request: Request) -> Response:
    signed_in = _signed_in(request)
    if isinstance(signed_in, Response):
        return signed_in
    gateway, claims = signed_in
    found = gateway.tokens.users.get(str(claims.get("sub")))
    if found is None:
        return gotrue_error(404, "user_not_found", "User from sub claim in JWT does not exist")
    return JSONResponse(found.as_json())


async def logout(request: Request) -> Response:
    signed_in = _signed_in(request)
    if isinstance(signed_in, Response):
        return signed_in
    gateway, claims = signed_in
    gateway.tokens.sign_out(dict(claims), request.query_params.get("scope", "global"))
    return Response(status_code=204)
