"""``/realtime/v1/websocket``: Supabase Realtime's Phoenix protocol (vsn 1.0.0, JSON).

What realtime-py sends and expects, checked against its source: ``phx_join`` on
``realtime:<topic>`` answered by a ``phx_reply`` echoing the ``postgres_changes``
bindings with server ids, then a ``system`` message "Subscribed to PostgreSQL";
``postgres_changes`` messages carrying ``{data: {schema, table, commit_timestamp, type,
columns, record, old_record, errors}, ids}``; ``heartbeat`` on topic ``phoenix``;
``access_token`` to swap the JWT of a joined channel, where an expired token ends the
channel with a ``system`` error and ``phx_close``, as the real server does, and a valid
one makes the server subscribe again and say "Subscribed to PostgreSQL" once more.

A binding for a table outside the ``supabase_realtime`` publication is answered the
way Realtime answers it: the join is ok, then a ``system`` message with status
``error`` ("Unable to subscribe to changes with given parameters ..."), and no table
of that channel streams.

Rows are delivered the way Realtime's own ``realtime.apply_rls`` decides: an insert or
update only to subscribers whose role and claims find the row by its primary key
(``select exists (select 1 from t where pk = ...)``, whatever the key's columns), with
only the columns that role may SELECT; a table without a primary key, or whose key the
role may not read, delivers no record (Realtime sends an error there instead: "Error
400: Bad Request, no primary key", "Error 401: Unauthorized"); a delete goes to every
subscriber of the table with the old primary key only.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.supabase_gateway.changes import RowChange, published_tables, table_columns
from tests.supabase_gateway.db import as_claims
from tests.supabase_gateway.tokens import TokenError

if TYPE_CHECKING:
    from tests.supabase_gateway.app import Gateway


@dataclass(frozen=True)
class Binding:
    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None

    def as_reply(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"id": self.id, "event": self.event, "schema": self.schema}
        if self.table is not None:
            reply["table"] = self.table
        if self.filter is not None:
            reply["filter"] = self.filter
        return reply

    def matches(self, change: RowChange) -> bool:
        if self.schema != change.schema or (self.table not in (None, "*", change.table)):
            return False
        if self.event not in ("*", change.type):
            return False
        if self.filter is None:
            return True
        column, _, condition = self.filter.partition("=")
        op, _, value = condition.partition(".")
        row = change.record or change.old_key or {}
        return op == "eq" and str(row.get(column)) == value


@dataclass
class Subscription:
    topic: str
    join_ref: str | None
    claims: dict[str, Any]
    bindings: list[Binding] = field(default_factory=list)


def _unable_to_subscribe(topic: str, binding: Binding) -> dict[str, Any]:
    return {
        "channel": topic.removeprefix("realtime:"),
        "extension": "postgres_changes",
        "message": "Unable to subscribe to changes with given parameters. Please check "
        "Realtime is enabled for the given connect parameters: "
        f"[event: {binding.event}, schema: {binding.schema}, table: {binding.table}, "
        f"filters: {'[]' if binding.filter is None else binding.filter}]",
        "status": "error",
    }


def _binding_id(binding: dict[str, Any]) -> int:
    """A stable id per binding, as Realtime derives it from the binding's parameters."""
    return zlib.crc32(json.dumps(binding, sort_keys=True).encode()) & 0x7FFFFFFF


class RealtimeConnection:
    """One client socket and the channels it joined."""

    def __init__(self, gateway: Gateway, ws: WebSocket, socket_claims: dict[str, Any]) -> None:
        self.gateway = gateway
        self.ws = ws
        self.socket_claims = socket_claims
        self.channels: dict[str, Subscription] = {}
        self._send_lock = asyncio.Lock()

    async def send(
        self,
        topic: str,
        event: str,
        payload: dict[str, Any],
        ref: str | None = None,
        join_ref: str | None = None,
    ) -> None:
        frame = {"event": event, "topic": topic, "payload": payload, "ref": ref}
        if join_ref is not None:
            frame["join_ref"] = join_ref
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame))

    async def reply(self, msg: dict[str, Any], status: str, response: dict[str, Any]) -> None:
        await self.send(
            msg["topic"],
            "phx_reply",
            {"status": status, "response": response},
            ref=msg.get("ref"),
            join_ref=msg.get("join_ref"),
        )

    async def handle(self, msg: dict[str, Any]) -> None:
        event, topic = msg.get("event"), msg.get("topic", "")
        if topic == "phoenix" and event == "heartbeat":
            await self.reply(msg, "ok", {})
            await self.gateway.note(heartbeats=1)
        elif event == "phx_join":
            await self._join(msg)
        elif event == "access_token":
            await self._access_token(msg)
        elif event == "phx_leave":
            self.channels.pop(topic, None)
            await self.reply(msg, "ok", {})
        else:
            await self.reply(msg, "error", {"reason": f"unknown event {event!r}"})

    def _claims_for(self, token: str | None) -> dict[str, Any]:
        return self.gateway.tokens.verify(token) if token else self.socket_claims

    async def _join(self, msg: dict[str, Any]) -> None:
        topic = msg["topic"]
        payload = msg.get("payload") or {}
        try:
            claims = self._claims_for(payload.get("access_token"))
        except TokenError as exc:
            reason = (
                f"Token has expired {exc.seconds_ago} seconds ago"
                if exc.expired
                else "Invalid JWT: " + str(exc)
            )
            await self.reply(msg, "error", {"reason": reason})
            return
        wanted = (payload.get("config") or {}).get("postgres_changes") or []
        bindings = []
        for raw in wanted:
            table = raw.get("table")
            bindings.append(
                Binding(
                    id=_binding_id(raw),
                    event=str(raw.get("event", "*")),
                    schema=str(raw.get("schema", "public")),
                    table=table,
                    filter=raw.get("filter"),
                )
            )
        async with self.gateway.pool.connection() as conn:
            published = await published_tables(conn)  # as Realtime checks at each subscribe
        unpublished = [b for b in bindings if b.table not in (None, "*", *published)]
        sub = Subscription(topic, msg.get("join_ref") or msg.get("ref"), claims, bindings)
        self.channels[topic] = sub
        await self.reply(msg, "ok", {"postgres_changes": [b.as_reply() for b in bindings]})
        if unpublished:
            sub.bindings = []  # one binding it cannot make and the channel streams nothing
            await self.send(topic, "system", _unable_to_subscribe(topic, unpublished[0]))
            await self.gateway.note(joins=1, refused_subscriptions=1)
            return
        await self._subscribed(sub)
        await self.gateway.note(joins=1)

    async def _subscribed(self, sub: Subscription) -> None:
        if sub.bindings:
            await self.send(
                sub.topic,
                "system",
                {
                    "channel": sub.topic.removeprefix("realtime:"),
                    "extension": "postgres_changes",
                    "message": "Subscribed to PostgreSQL",
                    "status": "ok",
                },
            )
            await self.gateway.note(subscribed=1)

    async def _access_token(self, msg: dict[str, Any]) -> None:
        sub = self.channels.get(msg["topic"])
        token = (msg.get("payload") or {}).get("access_token")
        if sub is None:
            return
        try:
            sub.claims = self._claims_for(token)
        except TokenError as exc:
            text = f"Token has expired {exc.seconds_ago} seconds ago" if exc.expired else str(exc)
            await self.shutdown_channel(sub, text)
            return
        await self.reply(msg, "ok", {})
        await self._subscribed(sub)  # the real server subscribes again with the new claims
        await self.gateway.note(token_swaps=1)

    async def shutdown_channel(self, sub: Subscription, reason: str) -> None:
        """End a channel the way Realtime does on a bad token: system error, then close."""
        self.channels.pop(sub.topic, None)
        await self.send(
            sub.topic,
            "system",
            {
                "channel": sub.topic.removeprefix("realtime:"),
                "extension": "system",
                "message": reason,
                "status": "error",
            },
        )
        await self.send(sub.topic, "phx_close", {}, join_ref=sub.join_ref)

    async def expire_check(self) -> None:
        """Close every channel whose token has expired by the gateway's clock."""
        for sub in list(self.channels.values()):
            exp = sub.claims.get("exp")
            now = self.gateway.tokens.now()
            if isinstance(exp, int | float) and exp <= now:
                await self.shutdown_channel(sub, f"Token has expired {int(now - exp)} seconds ago")

    async def deliver(self, change: RowChange, columns: list[dict[str, str]]) -> None:
        for sub in list(self.channels.values()):
            ids = [b.id for b in sub.bindings if b.matches(change)]
            if not ids:
                continue
            record = await self._visible_record(sub, change)
            if change.type != "DELETE" and record is None:
                continue  # row-level security hides this row from the subscriber
            data: dict[str, Any] = {
                "schema": change.schema,
                "table": change.table,
                "commit_timestamp": change.commit_timestamp,
                "type": change.type,
                "columns": columns,
                "errors": None,
            }
            if change.type != "DELETE":
                data["record"] = record
            if change.type != "INSERT":
                data["old_record"] = change.old_key or {}
            if not self.gateway.may_deliver():
                await self.gateway.note(dropped=1)  # over the project's events per second
                continue
            await self.send(sub.topic, "postgres_changes", {"data": data, "ids": ids})
            await self.gateway.note(delivered=1)

    async def _visible_record(self, sub: Subscription, change: RowChange) -> dict[str, Any] | None:
        """The row as the subscriber may see it, found by primary key; None: not visible."""
        key = change.record_key
        if change.type == "DELETE" or not key:
            return None  # Realtime: "Error 400: Bad Request, no primary key"
        table = sql.Identifier(change.schema, change.table)
        where = sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in key)
        query = sql.SQL(
            "select exists (select 1 from {table} where {where}), array("
            "select a.attname::text from pg_catalog.pg_attribute a"
            " where a.attrelid = {name}::regclass and a.attnum > 0 and not a.attisdropped"
            " and has_column_privilege(a.attrelid, a.attnum, 'SELECT'))"
        ).format(table=table, where=where, name=sql.Literal(f"{change.schema}.{change.table}"))
        values = [None if v is None else str(v) for v in key.values()]
        try:
            async with as_claims(self.gateway.pool, sub.claims) as conn:
                cur = await conn.execute(query, values)
                found = await cur.fetchone()
        except psycopg.errors.InsufficientPrivilege:
            return None  # Realtime: "Error 401: Unauthorized"
        if found is None or not found[0]:
            return None
        record = change.record if change.record is not None else await self._read_back(change)
        return {k: v for k, v in record.items() if k in found[1]}

    async def _read_back(self, change: RowChange) -> dict[str, Any]:
        """A row too large to carry in the capture message, read again by primary key."""
        key = change.record_key or {}
        where = sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in key)
        query = sql.SQL("select to_jsonb(t) from {} t where {}").format(
            sql.Identifier(change.schema, change.table), where
        )
        async with self.gateway.pool.connection() as conn:
            cur = await conn.execute(query, [None if v is None else str(v) for v in key.values()])
            row = await cur.fetchone()
        return dict(row[0]) if row else {}


async def websocket_endpoint(ws: WebSocket) -> None:
    gateway: Gateway = ws.app.state.gateway
    await gateway.note(attempts=1)
    apikey = ws.query_params.get("apikey")
    if gateway.refuse_realtime or not gateway.tokens.is_api_key(apikey):
        await ws.close(code=1008)
        return
    assert apikey is not None
    await ws.accept()
    conn = RealtimeConnection(gateway, ws, gateway.tokens.verify(apikey))
    gateway.connections.add(conn)
    await gateway.note(connects=1)
    try:
        while True:
            text = await ws.receive_text()
            try:
                msg = json.loads(text)
            except ValueError:
                continue
            await conn.handle(msg)
    except WebSocketDisconnect:
        pass
    finally:
        gateway.connections.discard(conn)


async def columns_cached(gateway: Gateway, schema: str, table: str) -> list[dict[str, str]]:
    key = f"{schema}.{table}"
    if key not in gateway.columns:
        async with gateway.pool.connection() as conn:
            gateway.columns[key] = await table_columns(conn, schema, table)
    return gateway.columns[key]
