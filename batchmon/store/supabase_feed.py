"""The Supabase change feed: ``postgres_changes`` made safe to rely on.

realtime-py calls its callbacks synchronously inside its socket reader, so one
exception there silently ends all later events; it stops reconnecting after
``max_retries``; it never replays what was missed while away; and a server that ends
a channel (an expired token) leaves it closed. Hence:

- every callback is guarded and only pushes into asyncio queues;
- a ``resync`` change follows every (re)subscribe and every "Subscribed to
  PostgreSQL" system message, so consumers refetch what they may have missed;
- a watchdog rebuilds the socket and channel whenever they stay unhealthy (realtime-py
  gave up, or the server closed the channel), with backoff and no retry limit, and
  refreshes the session first when the server refused the token;
- "Subscribed to PostgreSQL" again on a live channel (the server re-subscribes after
  every ``access_token`` push, i.e. each token refresh) is no news: no second resync;
- a table missing from the ``supabase_realtime`` publication is answered with a join
  that succeeds and then a ``system`` error, after which nothing streams. realtime-py
  would rejoin (and the consumer resync) every few seconds forever; the feed instead
  says once, as a ``resync`` whose payload carries ``push_unavailable``, "push
  unavailable: table X is not in supabase_realtime (run batchmon db migrate)", stops
  rejoining, and tries again only after ``unavailable_retry`` seconds. Polling, which
  the consumer runs anyway, carries on;
- Realtime drops every delivery of a project for 10-60 s once it exceeds its events
  per second (100 by default), silently. A burst of ``burst_events`` row events
  within one second means changes were likely lost: once the burst has been quiet for
  ``burst_quiet`` seconds the feed says ``resync`` (reason ``burst``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from realtime import AsyncRealtimeChannel, RealtimeSubscribeStates
from realtime.types import RealtimePostgresChangesListenEvent
from supabase import AsyncClient

from batchmon.core.backoff import Backoff
from batchmon.store.protocol import Change

logger = logging.getLogger(__name__)

SUBSCRIBED_TO_POSTGRES = "Subscribed to PostgreSQL"
RESYNC_JOINED = "joined"  # the channel (re)joined
RESYNC_POSTGRES_READY = "postgres_ready"  # the server's change stream is live
RESYNC_PUSH_UNAVAILABLE = "push_unavailable"  # subscribed, but a table cannot stream
RESYNC_BURST = "burst"  # so many events at once that Realtime likely dropped some
#: One row per batch, upserted by every statement that changes the batch's assets.
ASSET_CHANGES = "batchmon_asset_changes"
#: How Realtime's ``system`` error begins when a binding's table is not published.
UNABLE_TO_SUBSCRIBE = "Unable to subscribe to changes"


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """Timing of the watchdog. ``stale_after`` gives realtime-py's own retries a chance."""

    tables: tuple[str, ...] = ("openai_batches", ASSET_CHANGES)
    schema: str = "public"
    check_interval: float = 5.0
    stale_after: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=60.0))
    unavailable_retry: float = 600.0
    burst_events: int = 100
    burst_quiet: float = 2.0


class ChangeQueue:
    """One ``changes()`` iterator's queue; "assets changed" is coalesced per batch.

    Each statement that changes a batch's assets is one realtime event, and an apply
    is many statements; a consumer only needs to know that a batch's assets changed
    since it last looked.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.assets_queued: set[str] = set()

    def put(self, change: Change) -> None:
        if change.kind == "assets" and change.batch_id is not None:
            if change.batch_id in self.assets_queued:
                return  # one "assets changed" per batch until the consumer takes it
            self.assets_queued.add(change.batch_id)
        self.queue.put_nowait(change)

    def end(self) -> None:
        """Wake the consumer with "no more changes" (the store closed)."""
        self.queue.put_nowait(None)

    async def get(self) -> Change | None:
        change = await self.queue.get()
        if change is not None and change.kind == "assets" and change.batch_id is not None:
            self.assets_queued.discard(change.batch_id)
        return change


def change_from_payload(payload: Mapping[str, Any]) -> Change | None:
    """A ``postgres_changes`` payload as a :class:`Change` (None for other tables)."""
    data = payload["data"]
    table = data["table"]
    record = data.get("record") or data.get("old_record") or {}
    if not isinstance(record, Mapping):
        raise TypeError(f"record is not an object: {record!r:.100}")
    if table == "openai_batches":
        return Change(
            "batch", batch_id=str(record["id"]), status=record.get("status"), payload=dict(record)
        )
    if table == ASSET_CHANGES:
        return Change("assets", batch_id=str(record["batch_id"]), payload=dict(record))
    return None


class RealtimeFeed:
    """Owns the realtime channel of one :class:`supabase.AsyncClient` and feeds queues."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        options: FeedOptions | None = None,
        refresh_session: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._options = options or FeedOptions()
        self._refresh_session = refresh_session
        self._subscribers: set[ChangeQueue] = set()
        self._channel: AsyncRealtimeChannel | None = None
        self._topics = itertools.count(1)
        self._trouble = asyncio.Event()
        self._token_rejected = False
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._live = False  # "Subscribed to PostgreSQL" seen since the last join
        self._unavailable_since: float | None = None
        self.unavailable: str | None = None  # why push cannot work, as last reported
        self.rebuilds = 0
        self.dropped_payloads = 0
        self.checks = 0  # watchdog passes
        self._second = (0.0, 0)  # (start of the current second, row events in it)
        self._burst_ended: float | None = None  # last event of a burst not yet resynced

    async def changes(self) -> AsyncIterator[Change]:
        """Changes as they arrive; starts the feed on first use, ends when it closes."""
        if self._closed:
            return
        sub = ChangeQueue()
        self._subscribers.add(sub)
        self.start()
        try:
            while (change := await sub.get()) is not None:
                yield change
        finally:
            self._subscribers.discard(sub)

    def start(self) -> None:
        if self._watchdog is None and not self._closed:
            self._trouble.set()
            self._watchdog = asyncio.create_task(self._watch(), name="supabase-feed-watchdog")

    @property
    def healthy(self) -> bool:
        channel = self._channel
        realtime = self._client.realtime
        return (
            channel is not None
            and realtime.is_connected
            and channel.is_joined
            and realtime.channels.get(channel.topic) is channel
        )

    # -- callbacks: synchronous, called from realtime-py's reader; must never raise --

    def _publish(self, change: Change) -> None:
        for sub in list(self._subscribers):
            sub.put(change)

    def _on_row(self, payload: Any) -> None:
        try:
            self._count_event()
            change = change_from_payload(payload)
            if change is not None:
                self._publish(change)
        except Exception:
            self.dropped_payloads += 1
            logger.exception("ignored a realtime change that could not be read")

    def _on_system(self, payload: Any) -> None:
        try:
            if getattr(payload, "message", None) == SUBSCRIBED_TO_POSTGRES and not self._live:
                self._live = True
                self._unavailable_since = None
                self.unavailable = None
                self._publish(Change("resync", payload={"reason": RESYNC_POSTGRES_READY}))
        except Exception:
            logger.exception("ignored a realtime system message that could not be read")

    def _on_state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        try:
            if state == RealtimeSubscribeStates.SUBSCRIBED:
                self._live = False
                self._publish(Change("resync", payload={"reason": RESYNC_JOINED}))
                return
            if UNABLE_TO_SUBSCRIBE in str(error or ""):
                self._push_unavailable(str(error))
                return
            text = str(error or "").lower()
            if "token" in text or "jwt" in text:
                self._token_rejected = True
            logger.warning("realtime channel %s: %s", state.value, error or "")
            self._trouble.set()
        except Exception:
            logger.exception("ignored a failure while handling a realtime state change")

    @property
    def burst_pending(self) -> bool:
        """A burst was seen and its resync is still to come."""
        return self._burst_ended is not None

    def _count_event(self) -> None:
        now = asyncio.get_running_loop().time()
        start, seen = self._second
        if now - start >= 1.0:
            start, seen = now, 0
        self._second = (start, seen + 1)
        if seen + 1 >= self._options.burst_events or self._burst_ended is not None:
            self._burst_ended = now

    def _resync_after_burst(self, now: float) -> None:
        ended = self._burst_ended
        if ended is not None and now - ended >= self._options.burst_quiet:
            self._burst_ended = None
            self._publish(Change("resync", payload={"reason": RESYNC_BURST}))

    def _push_unavailable(self, error: str) -> None:
        """Stop realtime-py's rejoin loop; say why once (until the reason changes)."""
        channel = self._channel
        if channel is not None:
            channel.rejoin_timer.reset()
        self._unavailable_since = asyncio.get_running_loop().time()
        found = re.search(r"table: ([\w.]+)", error)
        table = found.group(1) if found else "of batchmon's"
        message = (
            f"push unavailable: table {table} is not in supabase_realtime (run batchmon db migrate)"
        )
        if message == self.unavailable:
            return
        self.unavailable = message
        logger.warning("%s; polling carries on", message)
        self._publish(
            Change(
                "resync", payload={"reason": RESYNC_PUSH_UNAVAILABLE, "push_unavailable": message}
            )
        )

    # -- watchdog --

    async def _watch(self) -> None:
        opts = self._options
        loop = asyncio.get_running_loop()
        backoff = opts.backoff
        unhealthy_since: float | None = None
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._trouble.wait(), opts.check_interval)
            self._trouble.clear()
            self.checks += 1
            self._resync_after_burst(loop.time())
            waiting = self._unavailable_since
            if waiting is not None and loop.time() - waiting < opts.unavailable_retry:
                continue  # the server said it cannot stream: do not rejoin in a loop
            if self.healthy:
                unhealthy_since = None
                backoff = backoff.reset()
                continue
            now = loop.time()
            if unhealthy_since is None:
                unhealthy_since = now
            channel = self._channel
            closed = channel is None or channel.is_closed or self._token_rejected
            if not closed and now - unhealthy_since < opts.stale_after:
                # realtime-py is still reconnecting or rejoining by itself: look again later.
                continue
            try:
                await self._rebuild()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "realtime reconnect failed (%s); retrying in %.1fs", exc, backoff.delay
                )
                await asyncio.sleep(backoff.delay)
                backoff = backoff.next()
                self._trouble.set()
            else:
                unhealthy_since = None
                backoff = backoff.reset()

    async def _rebuild(self) -> None:
        """Drop the socket and channel and subscribe afresh with a valid token."""
        self.rebuilds += 1
        await self._teardown()
        if self._token_rejected and self._refresh_session is not None:
            await self._refresh_session()
        self._token_rejected = False
        session = await self._client.auth.get_session()
        if session is not None:
            await self._client.realtime.set_auth(session.access_token)
        # A fresh topic per attempt: a leave buffered for an old channel cannot hit it.
        channel = self._client.channel(f"batchmon-changes-{next(self._topics)}")
        for table in self._options.tables:
            channel.on_postgres_changes(
                event=RealtimePostgresChangesListenEvent.All,
                schema=self._options.schema,
                table=table,
                callback=self._on_row,
            )
        channel.on_system(callback=self._on_system)
        self._channel = channel
        await channel.subscribe(self._on_state)
        if not channel.is_joined:
            raise ConnectionError(f"realtime channel did not join ({channel.state.value})")

    async def _teardown(self) -> None:
        channel, self._channel = self._channel, None
        realtime = self._client.realtime
        if channel is not None and realtime.channels.get(channel.topic) is channel:
            with contextlib.suppress(Exception):
                if realtime.is_connected:
                    await realtime.remove_channel(channel)
                else:
                    realtime.channels.pop(channel.topic, None)
                    channel.rejoin_timer.reset()
        with contextlib.suppress(Exception):
            await realtime.close()

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.end()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
            self._watchdog = None
        await self._teardown()
