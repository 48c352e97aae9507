"""A sync pass costs list pages, records what it saw, and reports each transition once."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from batchmon.core.diff import EventKind
from batchmon.engine.sync import BatchSync
from batchmon.openai_batches import BatchClient, StatusReport
from batchmon.sim import Simulator
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, insert_assets


async def _pending_batches(
    simulator: Simulator, store: PostgresStore, url: str, n: int
) -> list[str]:
    """``n`` simulated batches of one asset each, recorded as submitted."""
    ids = insert_assets(url, n)
    batch_ids = []
    for asset_id in ids:
        line = json.dumps(
            {
                "custom_id": asset_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            }
        )
        upload = simulator.upload_file((line + "\n").encode(), "in.jsonl", "batch")
        batch = simulator.create_batch(input_file_id=upload["id"], endpoint="/v1/chat/completions")
        await store.mark_submitted(batch, [asset_id])
        batch_ids.append(batch["id"])
    return batch_ids


async def test_first_pass_is_a_baseline_then_each_transition_is_reported_once(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    batch_ids = await _pending_batches(simulator, store, database_url, 3)
    sync = BatchSync(client, store)

    first = await sync.run()
    assert set(first.batches) == set(batch_ids) and first.events == []

    simulator.advance(3600)
    second = await sync.run()
    completed = [e for e in second.events if e.kind is EventKind.COMPLETED]
    assert sorted(e.batch_id for e in completed) == sorted(batch_ids)

    third = await sync.run()
    assert third.events == []
    row = await store.get_batch(batch_ids[0])
    assert row is not None and row.status == "completed"


async def test_a_pass_over_many_batches_costs_list_pages_not_one_request_each(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    n = 250
    await _pending_batches(simulator, store, database_url, n)
    result = await BatchSync(client, store).run()

    assert len(result.batches) == n
    assert result.requests <= math.ceil(n / 100) + 1


async def test_caller_ids_are_checked_too(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    upload = simulator.upload_file(b"", "in.jsonl", "batch")
    outside = simulator.create_batch(input_file_id=upload["id"], endpoint="/v1/chat/completions")
    result = await BatchSync(client, store).run([outside["id"]])
    assert outside["id"] in result.batches
    assert await store.get_batch(outside["id"]) is not None


class _LaggingClient(BatchClient):
    """The real client, except one status read replays an earlier real answer.

    List pages can lag a retrieve: this is how a stale ``in_progress`` arrives after a
    batch was already seen ``completed``.
    """

    def __init__(self, inner: BatchClient) -> None:
        self._inner = inner
        self.replay: StatusReport | None = None

    async def statuses(self, ids: Iterable[str], **kwargs: Any) -> StatusReport:
        if self.replay is not None:
            replay, self.replay = self.replay, None
            return replay
        return await self._inner.statuses(ids, **kwargs)


async def test_a_stale_read_after_completion_is_ignored_and_not_reported_again(
    client: BatchClient, store: PostgresStore, database_url: str, simulator: Simulator
) -> None:
    [batch_id] = await _pending_batches(simulator, store, database_url, 1)
    lagging = _LaggingClient(client)
    sync = BatchSync(lagging, store)
    simulator.advance(20)
    await sync.run()
    stale = await client.statuses([batch_id])
    assert stale.batches[batch_id].status == "in_progress"

    simulator.advance(3600)
    done = await sync.run()
    assert [e.kind for e in done.events].count(EventKind.COMPLETED) == 1

    lagging.replay = stale
    late = await sync.run()
    assert late.events == [] and late.batches == {}
    row = await store.get_batch(batch_id)
    assert row is not None and row.status == "completed"

    again = await sync.run()
    assert again.events == []


async def test_a_batch_the_api_does_not_know_is_not_asked_about_every_pass(
    client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    ids = insert_assets(database_url, 2)
    execute(
        database_url,
        "update public.assets set auto_tag_status = 'pending', openai_batch_id = 'batch_gone' "
        "where id = any(%s::uuid[])",
        (ids,),
    )
    sync = BatchSync(client, store)

    first = await sync.run()
    second = await sync.run()

    assert first.missing == {"batch_gone"} and first.requests >= 1
    assert (second.missing, second.requests) == (frozenset(), 0)
