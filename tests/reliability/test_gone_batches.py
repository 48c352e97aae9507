"""A batch the API no longer knows, or whose output expired unapplied, has a way out (S3).

It gets a state of its own ("batch not found", "results expired"), the worker stops
re-erroring on it every pass, ``retry`` rebuilds its requests (from the input file while
it lasts, from the assets when not), and ``submit`` accepts its assets again.
"""

from __future__ import annotations

import json

from batchmon.engine.apply import RESULTS_EXPIRED_NOTE
from batchmon.engine.retry import Retrier, requested_model
from batchmon.engine.submit import submit_assets
from batchmon.engine.worker import BATCH_NOT_FOUND_NOTE
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, insert_assets
from tests.reliability.helpers import Misbehaving, fast_worker, ledger
from tests.reliability.misbehaving_api import LiveMisbehavingApi

VANISHED = "batch_0000000000000000deleted0"


def _pending_in_vanished_batch(database_url: str, count: int) -> list[str]:
    """Assets an app marked pending in a batch OpenAI does not know (deleted elsewhere)."""
    ids = insert_assets(database_url, count, url_prefix="https://img.example.test/red-fox")
    execute(
        database_url,
        "update public.assets set auto_tag_status = 'pending', openai_batch_id = %s "
        "where id = any(%s::uuid[])",
        (VANISHED, ids),
    )
    return ids


async def _models_of(client: BatchClient, file_id: str) -> set[str]:
    return {json.loads(line)["body"]["model"] async for line in client.iter_output_lines(file_id)}


async def test_a_vanished_batch_is_reported_once_and_retry_rebuilds_it(
    misbehaving_api: LiveMisbehavingApi,
    misbehaving_client: BatchClient,
    store: PostgresStore,
    database_url: str,
) -> None:
    ids = _pending_in_vanished_batch(database_url, 5)
    worker = fast_worker(misbehaving_client, store)

    first = await worker.run_once()
    assert first.errors == {VANISHED: BATCH_NOT_FOUND_NOTE}
    second = await worker.run_once()
    assert (second.run.checked, second.run.error) == (0, None)  # not re-erroring
    assert ledger(database_url, ids).failed == []
    # The row's model as OpenAI reports it: a dated snapshot, never what a retry asks for.
    execute(
        database_url,
        "update public.openai_batches set model = 'gpt-4o-mini-2024-07-18' where id = %s",
        (VANISHED,),
    )

    result = await Retrier(misbehaving_client, store).retry(VANISHED)

    assert (result.source, result.asset_count, result.created) == ("rebuilt", 5, True)
    assert await _models_of(misbehaving_client, result.new_batch.input_file_id) == {"gpt-4o-mini"}
    misbehaving_api.simulator.advance(3600)
    await worker.run_once()
    book = ledger(database_url, ids)
    assert len(book.completed) == 5 and book.applied_twice == [] and book.wrong_tags() == []


async def test_submit_accepts_the_assets_of_a_vanished_batch(
    misbehaving_client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    ids = _pending_in_vanished_batch(database_url, 3)
    await fast_worker(misbehaving_client, store).run_once()

    result = await submit_assets(misbehaving_client, store, await store.assets_by_ids(ids))

    assert (result.submitted, result.skipped) == (3, {})
    assert {a.batch_id for a in await store.assets_by_ids(ids)} == {result.batches[0].id}


async def test_expired_output_is_its_own_state_and_retry_resends_the_input_lines(
    misbehaving: Misbehaving,
) -> None:
    store, database_url = misbehaving.store, misbehaving.database_url
    batch_id, ids = await misbehaving.finished_batch(4)
    misbehaving.server.api.add("not_found", r"GET /v1/files/.*/content")
    worker = fast_worker(misbehaving.client, store)

    first = await worker.run_once()
    assert [a.problem for a in first.applied] == [RESULTS_EXPIRED_NOTE]
    expired = (await store.results_states([batch_id]))[batch_id]
    assert (expired.state, expired.next_check_at) == ("results_expired", None)
    assert (await worker.run_once()).run.checked == 0
    assert ledger(database_url, ids).failed == []  # still pending: nothing lost

    result = await Retrier(misbehaving.client, store).retry(batch_id)

    assert (result.source, result.asset_count) == ("input_file", 4)
    misbehaving.server.simulator.advance(3600)
    await worker.run_once()
    book = ledger(database_url, ids)
    assert len(book.completed) == 4 and book.applied_twice == [] and book.lost == []


def test_a_retry_asks_for_the_requested_model_not_the_dated_snapshot() -> None:
    assert requested_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert requested_model("gpt-4.1-nano") == "gpt-4.1-nano"
    assert requested_model(None) == "gpt-4o-mini"
