"""``/rest/v1/{table}``: PostgREST's table and view endpoints, as the JWT's role.

Enough of PostgREST to ask what any key can do to a table: read (``GET``, read-only,
cut at ``db-max-rows``), insert (``POST`` of an object or an array), update (``PATCH``)
and delete (``DELETE``), each filtered by ``column=eq.value`` query parameters. Every
table and view of ``public`` is exposed, as on Supabase; privileges and RLS decide.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from tests.supabase_gateway.rest import database_error, postgrest_error, request_claims

_COLUMNS = """
select a.attname
from pg_catalog.pg_attribute a
join pg_catalog.pg_class c on c.oid = a.attrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""


async def table(request: Request) -> Response:
    found = request_claims(request, "table")
    if isinstance(found, Response):
        return found
    gateway, claims, name = found
    async with gateway.rest_pool.connection() as conn:
        cur = await conn.execute(_COLUMNS, (name,))
        columns = [c for (c,) in await cur.fetchall()]
    if not columns:
        return postgrest_error(
            404, "PGRST205", f"Could not find the table 'public.{name}' in the schema cache"
        )
    filters = [(k, v[3:]) for k, v in request.query_params.multi_items() if v.startswith("eq.")]
    unknown = [k for k, _ in filters if k not in columns]
    if unknown:
        return postgrest_error(400, "42703", f"column {name}.{unknown[0]} does not exist")
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return postgrest_error(400, "PGRST102", "Empty or invalid json")
    statement, params, status = _statement(request.method, name, filters, body, gateway.max_rows)
    if statement is None:
        return postgrest_error(400, "PGRST102", "Empty or invalid json")
    role = str(claims.get("role"))
    try:
        async with gateway.as_request(claims, read_only=request.method == "GET") as conn:
            cur = await conn.execute(statement, params)
            row = await cur.fetchone() if request.method == "GET" else None
    except psycopg.Error as exc:
        return database_error(exc, role)
    if row is not None:
        return Response(json.dumps(row[0]), media_type="application/json")
    return Response(status_code=status)


def _statement(
    method: str, name: str, filters: list[tuple[str, str]], body: Any, max_rows: int | None
) -> tuple[sql.Composed | None, list[Any], int]:
    target = sql.Identifier("public", name)
    where: sql.Composable = sql.SQL("")
    if filters:
        where = sql.SQL(" where ") + sql.SQL(" and ").join(
            sql.SQL("{}::text = %s").format(sql.Identifier(k)) for k, _ in filters
        )
    values = [v for _, v in filters]
    if method == "GET":
        limit = sql.SQL(" limit {}").format(sql.Literal(max_rows)) if max_rows else sql.SQL("")
        query = sql.SQL("select coalesce(json_agg(_r), '[]') from (select * from {}{}{}) _r")
        return query.format(target, where, limit), values, 200
    if method == "DELETE":
        return sql.SQL("delete from {}{}").format(target, where), values, 204
    rows = body if isinstance(body, list) else [body]
    if not rows or not all(isinstance(r, dict) and r for r in rows):
        return None, [], 400
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in rows[0])
    if method == "POST":
        query = sql.SQL(
            "insert into {} ({}) select {} from json_populate_recordset(null::{}, %s::json)"
        )
        return query.format(target, keys, keys, target), [json.dumps(rows)], 201
    query = sql.SQL(
        "update {} set ({}) = (select {} from json_populate_record(null::{}, %s::json)){}"
    )
    return query.format(target, keys, keys, target, where), [json.dumps(rows[0]), *values], 204
