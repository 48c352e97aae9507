"""Hostile result files (tests/data/hostile/) through the simulator into Postgres.

Each corpus file is uploaded to the simulator through ``/v1/files`` and named as a
finished batch's output (or error) file, with ``error_file_id`` "" as OpenAI sometimes
sends it. The engine's real apply then reads it over HTTP: every asset must end with an
outcome (tags, or a short reason a person can read), and one bad line must never cost
the rest of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from openai.types import Batch

from batchmon.engine.apply import UNRETURNED_REASON, BatchApplier
from batchmon.openai_batches import BatchClient
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import execute, openai_batch
from tests.reliability.helpers import ledger

CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile"
PAD = b"@PAD_1MB@"
MAX_REASON = 500
NO_RESULT = UNRETURNED_REASON


def asset(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def load(name: str) -> bytes:
    """A corpus file; ``@PAD_1MB@`` expands to a megabyte (kept out of the repository)."""
    return (CORPUS / name).read_bytes().replace(PAD, b"x" * (1 << 20))


Expect = dict[int, "list[str] | str"]
"""Asset number -> its tags (completed) or a fragment of its failure reason."""


@dataclass(frozen=True)
class Case:
    file: str
    expect: Expect
    as_error_file: bool = False


CASES = [
    Case(
        "malformed_json.jsonl",
        {1: ["cat", "sofa"], 2: "not valid JSON", 3: ["dog"], 9: NO_RESULT},
    ),
    Case("truncated_last_line.jsonl", {1: ["cat"], 2: ["dog"], 3: NO_RESULT}),
    Case(
        "non_json_content.jsonl",
        {1: "replied with text, not JSON", 2: "replied with text, not JSON", 3: ["lamp"]},
    ),
    Case(
        "wrong_types.jsonl",
        {
            1: "tags must be a list of strings",
            2: "tags must be a list of strings",
            3: 'not a JSON object with a "tags" list',
            4: "no choices",
            5: NO_RESULT,
            6: NO_RESULT,
            7: "no body",
            8: ["tree"],
        },
    ),
    Case("unknown_and_duplicate_ids.jsonl", {1: ["first"], 2: ["fox"], 3: NO_RESULT}),
    Case("huge_line.jsonl", {1: ["big"], 2: "replied with text, not JSON", 3: ["small"]}),
    Case("invalid_utf8.jsonl", {1: "not valid UTF-8", 2: ["ok"], 3: NO_RESULT}),
    Case("empty.jsonl", {1: NO_RESULT, 2: NO_RESULT}),
    Case("blank_lines.jsonl", {1: ["lonely"], 2: NO_RESULT}),
    Case(
        "error_lines.jsonl",
        {
            1: "HTTP 400: bad image",
            2: "completion window expired",
            3: "HTTP 500",
            4: "no text content",
            5: "refused",
        },
        as_error_file=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file.removesuffix(".jsonl") for c in CASES])
async def test_hostile_file_gives_every_asset_an_outcome_and_applies_the_rest(
    case: Case, client: BatchClient, store: PostgresStore, database_url: str
) -> None:
    batch_id = "batch_hostile"
    ids = {n: asset(n) for n in case.expect}
    for n, asset_id in ids.items():
        execute(
            database_url,
            "insert into public.assets (id, image_url, auto_tag_status, openai_batch_id) "
            "values (%s, %s, 'pending', %s)",
            (asset_id, f"https://img.test/{n}.jpg", batch_id),
        )
    uploaded = await client.upload_jsonl(load(case.file), filename=case.file)
    files = (
        {"output_file_id": None, "error_file_id": uploaded.id}
        if case.as_error_file
        else {"output_file_id": uploaded.id, "error_file_id": ""}
    )
    body = openai_batch(batch_id, "completed", total=len(ids), **files)
    await store.record_statuses([body])

    report = await BatchApplier(client, store).apply(Batch.model_validate(body))

    books = ledger(database_url, list(ids.values()))
    assert books.lost == [] and books.applied_twice == []
    for n, want in case.expect.items():
        state = books.states[ids[n]]
        if isinstance(want, list):
            assert (state["status"], state["tags"]) == ("completed", want), (n, state)
        else:
            assert state["status"] == "failed", (n, state)
            assert want in state["error"], (n, state["error"])
            assert len(state["error"]) < MAX_REASON
    assert report.changed == len(ids)
    row = await store.get_batch(batch_id)
    assert row is not None and row.applied_at is not None and row.pending_assets == 0
