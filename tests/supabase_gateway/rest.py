"""``/rest/v1/rpc/{fn}``: PostgREST's function call, on the real database.

Arguments arrive as one JSON object and are typed the way PostgREST types them
(``json_to_record`` with the function's declared argument types); the result is shaped
like PostgREST's: an array for set-returning functions, an object for a single
composite, a bare JSON value for a scalar, 204 for ``void``. Database errors come back
as PostgREST's ``{code, message, details, hint}`` with its HTTP status mapping.

Like PostgREST on Supabase, the gateway logs in as ``authenticator`` (when the test
database has one) and switches to the JWT's role per request, cuts the rows of a
set-returning function at ``db-max-rows`` (1,000 on Supabase; a scalar or array result
is one value and is never cut), and runs STABLE and IMMUTABLE functions read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.supabase_gateway.tokens import TokenError

if TYPE_CHECKING:
    from tests.supabase_gateway.app import Gateway


@dataclass(frozen=True)
class _Function:
    name: str
    args: list[tuple[str, str]]  # (name, type) of the IN arguments, in order
    required: frozenset[str]
    returns_set: bool
    returns_row: bool  # composite or record (RETURNS TABLE / OUT parameters)
    returns_void: bool
    read_only: bool  # STABLE or IMMUTABLE


_FUNCTION_QUERY = """
select p.proname,
       p.proretset,
       (rt.typtype = 'c' or p.prorettype = 'record'::regtype) as returns_row,
       p.prorettype = 'void'::regtype as returns_void,
       p.provolatile in ('s', 'i') as read_only,
       p.pronargdefaults,
       coalesce(p.proargnames, '{}') as names,
       coalesce(p.proargmodes::text[], '{}') as modes,
       array(
         select format_type(t.oid_, null)
         from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
              with ordinality as t(oid_, n)
         order by t.n
       ) as types
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace ns on ns.oid = p.pronamespace
join pg_catalog.pg_type rt on rt.oid = p.prorettype
where ns.nspname = 'public' and p.proname = %s
"""


def _candidates(rows: list[tuple[Any, ...]]) -> list[_Function]:
    found = []
    for name, retset, returns_row, returns_void, read_only, ndefaults, names, modes, types in rows:
        modes = list(modes) or ["i"] * len(types)
        args = [
            (names[i] if i < len(names) else f"${i + 1}", types[i])
            for i in range(len(types))
            if modes[i] in ("i", "b", "v")
        ]
        required = frozenset(a for a, _ in args[: len(args) - ndefaults])
        found.append(_Function(name, args, required, retset, returns_row, returns_void, read_only))
    return found


def _pick(functions: list[_Function], given: set[str]) -> _Function | None:
    """PostgREST's overload choice: the function whose argument names fit the JSON keys."""
    for fn in functions:
        names = {a for a, _ in fn.args}
        if given <= names and fn.required <= given:
            return fn
    return None


def _call_sql(fn: _Function, given: set[str], max_rows: int | None) -> sql.Composed:
    used = [(a, t) for a, t in fn.args if a in given]
    call = sql.SQL("{}({})").format(
        sql.Identifier("public", fn.name),
        sql.SQL(", ").join(
            sql.SQL("{} := _args.{}").format(sql.Identifier(a), sql.Identifier(a)) for a, _ in used
        ),
    )
    source: sql.Composable
    if used:
        source = sql.SQL("json_to_record(%s::json) as _args({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(a), sql.SQL(t)) for a, t in used
            )
        )
    else:
        source = sql.SQL("(select %s::json) as _unused")
    if fn.returns_void:
        return sql.SQL("select {} from {}").format(call, source)
    limit = sql.SQL(" limit {}").format(sql.Literal(max_rows)) if max_rows else sql.SQL("")
    if fn.returns_set and fn.returns_row:
        return sql.SQL(
            "select coalesce(json_agg(_r), '[]') from (select _c.* from {}, lateral {} as _c{}) _r"
        ).format(source, call, limit)
    if fn.returns_set:
        return sql.SQL(
            "select coalesce(json_agg(_r._v), '[]')"
            " from (select _c._v from {}, lateral {} as _c(_v){}) _r"
        ).format(source, call, limit)
    if fn.returns_row:
        return sql.SQL("select to_json(_r) from {}, lateral {} as _r").format(source, call)
    return sql.SQL("select to_json({}) from {}").format(call, source)


def postgrest_error(
    status: int, code: str, message: str, details: str | None = None, hint: str | None = None
) -> JSONResponse:
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return JSONResponse(
        body, status_code=status, headers={"Proxy-Status": f"PostgREST; error={code}"}
    )


def _status_for(sqlstate: str, role: str) -> int:
    """PostgREST's mapping of SQLSTATE to HTTP status (the cases batchmon can meet)."""
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    exact = {"23503": 409, "23505": 409, "25006": 405, "42883": 404, "42P01": 404, "P0001": 400}
    if sqlstate in exact:
        return exact[sqlstate]
    prefix = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "23": 400,
        "22": 400,
        "25": 500,
        "28": 403,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "P0": 500,
        "XX": 500,
        "42": 400,
    }
    return prefix.get(sqlstate[:2], 400)


def database_error(exc: psycopg.Error, role: str) -> JSONResponse:
    """A database error as PostgREST reports it."""
    diag = exc.diag
    sqlstate = exc.sqlstate or "XX000"
    return postgrest_error(
        _status_for(sqlstate, role),
        sqlstate,
        diag.message_primary or str(exc),
        details=diag.message_detail,
        hint=diag.message_hint,
    )


def request_claims(
    request: Request, resource: str
) -> tuple[Gateway, dict[str, Any], str] | Response:
    """The gateway, the request's JWT claims (bearer, else API key) and the named path
    part, or PostgREST's 401."""
    gateway: Gateway = request.app.state.gateway
    denied = gateway.check_api_key(request)
    if denied is not None:
        return denied
    bearer = request.headers.get("authorization", "")
    token = (
        bearer[7:] if bearer.lower().startswith("bearer ") else request.headers.get("apikey", "")
    )
    try:
        return gateway, gateway.tokens.verify(token), request.path_params[resource]
    except TokenError as exc:
        if exc.expired:
            return postgrest_error(401, "PGRST303", "JWT expired")
        return postgrest_error(401, "PGRST301", str(exc))


async def rpc(request: Request) -> Response:
    found = request_claims(request, "fn")
    if isinstance(found, Response):
        return found
    gateway, claims, name = found
    try:
        args = json.loads(await request.body() or b"{}")
    except ValueError:
        return postgrest_error(400, "PGRST102", "Empty or invalid json")
    if not isinstance(args, dict):
        return postgrest_error(400, "PGRST102", "Empty or invalid json")
    gateway.rpc_calls.append(name)
    async with gateway.rest_pool.connection() as conn:
        cur = await conn.execute(_FUNCTION_QUERY, (name,))
        functions = _candidates(await cur.fetchall())
    fn = _pick(functions, set(args))
    if fn is None:
        listed = ", ".join(sorted(args))
        return postgrest_error(
            404,
            "PGRST202",
            f"Could not find the function public.{name}({listed}) in the schema cache",
            details="Searched for the function with the given argument names,"
            " but no matches were found.",
        )
    given = {a for a, _ in fn.args if a in args}
    statement = _call_sql(fn, given, gateway.max_rows)
    role = str(claims.get("role"))
    try:
        async with gateway.as_request(claims, read_only=fn.read_only) as conn:
            cur = await conn.execute(statement, (json.dumps({k: args[k] for k in given}),))
            row = await cur.fetchone()
    except psycopg.Error as exc:
        return database_error(exc, role)
    if fn.returns_void:
        return Response(status_code=204)
    value = row[0] if row else None
    return Response(json.dumps(value), media_type="application/json")
