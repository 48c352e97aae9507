"""Send a set of assets to the Batch API for tagging and mark them pending.

The request lines come from :func:`batchmon.core.requests.build_tag_request`, the same
builder retry uses, so a resubmitted request is the very request first sent. OpenAI caps
a batch at 50,000 requests; bigger sets are split. Assets pending in a batch that is gone
(unknown to the API, or its output expired unapplied) are sent again; those pending in a
live batch are left to it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from openai.types import Batch

from batchmon.core.requests import CHAT_COMPLETIONS, DEFAULT_MODEL, build_tag_request, to_jsonl
from batchmon.core.results_states import GONE_STATES
from batchmon.openai_batches import ApiServerError, ApiUnreachable, BatchClient
from batchmon.store import AssetRow, Store

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_BATCH = 50_000
SUBMIT_TOKEN_KEY = "batchmon_submit_token"
#: How far back to look for a batch whose create answer was lost.
LOST_CREATE_WINDOW_S = 24 * 3600


@dataclass(slots=True)
class SubmitResult:
    """The batches created and the assets that could not be sent (with why)."""

    batches: list[Batch] = field(default_factory=list)
    submitted: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def submit_token(asset_ids: Sequence[str]) -> str:
    """Names one submission of exactly these assets (useful to find it again)."""
    digest = hashlib.sha256("\x1f".join(sorted(asset_ids)).encode()).hexdigest()
    return f"st_{digest[:32]}"


def _chunks(items: Sequence[AssetRow], size: int) -> list[Sequence[AssetRow]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def submit_assets(
    client: BatchClient,
    store: Store,
    assets: Sequence[AssetRow],
    *,
    model: str = DEFAULT_MODEL,
    endpoint: str = CHAT_COMPLETIONS,
    metadata: Mapping[str, str] | None = None,
    per_batch: int = MAX_REQUESTS_PER_BATCH,
    on_batch: Callable[[Batch, int], None] | None = None,
) -> SubmitResult:
    """Build, upload and create one batch per ``per_batch`` assets; mark them pending."""
    result = SubmitResult()
    sendable: list[tuple[AssetRow, dict[str, object]]] = []
    gone = await _gone_batches(store, assets)
    for asset in assets:
        if asset.status == "pending" and asset.batch_id and asset.batch_id not in gone:
            result.skipped[asset.id] = f"already pending in batch {asset.batch_id}"
            continue
        try:
            line = build_tag_request(
                asset.id, asset.image_url or "", model=model, endpoint=endpoint
            )
        except ValueError as exc:
            result.skipped[asset.id] = str(exc)
            continue
        sendable.append((asset, line))
    size = max(1, min(per_batch, MAX_REQUESTS_PER_BATCH))
    for start in range(0, len(sendable), size):
        chunk = sendable[start : start + size]
        ids = [asset.id for asset, _ in chunk]
        data = to_jsonl(line for _, line in chunk)
        token = submit_token(ids)
        uploaded = await client.upload_jsonl(data, filename="batchmon-submit.jsonl")
        # The upload's timestamp is the server's clock: look back from there.
        since = uploaded.created_at - LOST_CREATE_WINDOW_S
        batch = await _lost_create(client, store, token, since)
        if batch is None:
            meta = {**(metadata or {}), SUBMIT_TOKEN_KEY: token}
            try:
                batch = await client.create_batch(
                    input_file_id=uploaded.id, endpoint=endpoint, metadata=meta
                )
            except (ApiServerError, ApiUnreachable):
                # The server may have created it and lost the answer (the SDK retries
                # creates without an idempotency key): look before failing.
                batch = await _lost_create(client, store, token, since, uploaded.id)
                if batch is None:
                    raise
        moved = await store.mark_submitted(batch.model_dump(mode="json"), ids)
        if moved < len(ids):
            # Another submit got there first; those assets stay with its batch.
            log.warning(
                "%d of %d asset(s) were already pending in another batch; %s has the rest",
                len(ids) - moved,
                len(ids),
                batch.id,
            )
        result.batches.append(batch)
        result.submitted += moved
        log.info("submitted %d asset(s) as %s", moved, batch.id)
        if on_batch is not None:
            on_batch(batch, len(ids))
    return result


async def _gone_batches(store: Store, assets: Sequence[AssetRow]) -> set[str]:
    """The batches holding some of ``assets`` as pending whose results can never arrive."""
    holding = sorted({a.batch_id for a in assets if a.status == "pending" and a.batch_id})
    if not holding:
        return set()
    states = await store.results_states(holding)
    return {batch_id for batch_id, state in states.items() if state.state in GONE_STATES}


async def _lost_create(
    client: BatchClient,
    store: Store,
    token: str,
    created_after: int,
    input_file_id: str | None = None,
) -> Batch | None:
    """A batch created for exactly these assets whose answer never reached the store.

    Only a batch the store has never recorded counts: a recorded one was a completed
    earlier submission of the same assets, and resubmitting them is a new batch.
    """
    found = await client.find_batch_by_metadata(
        SUBMIT_TOKEN_KEY, token, created_after=created_after, input_file_id=input_file_id
    )
    if found is None or await store.get_batch(found.id) is not None:
        return None
    log.warning("adopting batch %s, created earlier for these assets but not recorded", found.id)
    return found
