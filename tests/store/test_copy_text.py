"""Result rows written as COPY text arrive in Postgres exactly as they were."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchmon.store import ApplyCounts, ResultRow
from batchmon.store.copy_text import NULL, array_literal, asset_uuid, copy_lines
from batchmon.store.postgres import PostgresStore
from tests.fixtures.postgres import fetch_all, insert_assets, openai_batch

# PostgreSQL text holds any character but NUL; surrogates are not UTF-8.
pg_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]))

NASTY_TAGS = [
    "plain",
    "with space",
    " padded ",
    "comma, inside",
    "{braces}",
    'quote"inside',
    "back\\slash",
    "\\N",
    "NULL",
    "null",
    "",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "ünïcødé ✓ 🌄",
    '"\\',
]


@pytest.fixture
def staging(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection with the apply staging table, as the store uses it."""
    with psycopg.connect(database_url) as conn:
        conn.execute("select public.batchmon_apply_stage()")
        yield conn


def _round_trip(conn: psycopg.Connection[Any], rows: list[ResultRow]) -> list[tuple[Any, ...]]:
    conn.execute("delete from pg_temp.batchmon_apply_rows")
    with (
        conn.cursor() as cur,
        cur.copy("copy pg_temp.batchmon_apply_rows (asset_id, ok, tags, error) from stdin") as cp,
    ):
        cp.write(copy_lines(rows).encode())
    return conn.execute(
        "select asset_id::text, ok, tags, error from pg_temp.batchmon_apply_rows order by seq"
    ).fetchall()


def test_tags_and_reasons_with_every_special_character_survive(
    staging: psycopg.Connection[Any],
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    rows = [
        ResultRow(ids[0], True, NASTY_TAGS),
        ResultRow(ids[1], True, []),
        ResultRow(ids[2], True, None),
        ResultRow(ids[3], False, error='HTTP 500:\tcut\nshort \\ \\N "quoted" {x}'),
        ResultRow(ids[4], False, error=""),
    ]
    assert _round_trip(staging, rows) == [
        (ids[0], True, NASTY_TAGS, None),
        (ids[1], True, [], None),
        (ids[2], True, None, None),
        (ids[3], False, None, 'HTTP 500:\tcut\nshort \\ \\N "quoted" {x}'),
        (ids[4], False, None, ""),
    ]


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.lists(pg_text, max_size=5) | st.none(), pg_text | st.none())))
def test_any_tags_and_reason_round_trip(
    staging: psycopg.Connection[Any], values: list[tuple[list[str] | None, str | None]]
) -> None:
    ids = [str(uuid.uuid4()) for _ in values]
    rows = [
        ResultRow(a, tags is not None, tags, error)
        for a, (tags, error) in zip(ids, values, strict=True)
    ]
    back = _round_trip(staging, rows)
    assert back == [(r.asset_id, r.ok, r.tags, r.error) for r in rows]


def test_asset_ids_in_other_spellings_are_normalised_and_non_uuids_become_null() -> None:
    canonical = str(uuid.uuid4())
    assert asset_uuid(canonical) == canonical
    assert asset_uuid(canonical.upper()) == canonical
    assert asset_uuid("{" + canonical + "}") == canonical
    assert asset_uuid(canonical.replace("-", "")) == canonical
    for bad in ("asset-1", "", canonical[:-1], None, 42):
        assert asset_uuid(bad) == NULL
    assert array_literal([]) == "{}"
    assert array_literal(["a", "b c"]) == '{"a","b c"}'


RowsFor = Callable[[list[str]], Any]

APPLY_CASES: dict[str, tuple[RowsFor, ApplyCounts, RowsFor]] = {
    "ids in any spelling match, what is not an id is skipped": (
        lambda ids: [
            ResultRow(ids[0].upper(), True, ["upper"]),
            ResultRow("{" + ids[1] + "}", True, NASTY_TAGS),
            ResultRow("not-a-uuid", True, ["ignored"]),
            ResultRow(ids[2], False, error="line\twith\ttabs\nand a newline"),
        ],
        ApplyCounts(completed=2, failed=1, skipped=1),
        lambda ids: {
            ids[0]: (["upper"], None),
            ids[1]: (NASTY_TAGS, None),
            ids[2]: (None, "line\twith\ttabs\nand a newline"),
        },
    ),
    "a NUL in model output is stored replaced, the rest of the batch applies": (
        lambda ids: [
            ResultRow(ids[0], True, ["red\x00fox", "ok"]),
            ResultRow(ids[1], False, error="model said \x00 then stopped"),
            ResultRow(ids[2], True, ["plain"]),
        ],
        ApplyCounts(completed=2, failed=1, skipped=0),
        lambda ids: {
            ids[0]: (["red\ufffdfox", "ok"], None),
            ids[1]: (None, "model said \ufffd then stopped"),
            ids[2]: (["plain"], None),
        },
    ),
}


@pytest.mark.parametrize(
    ("rows_for", "counts", "stored_for"), APPLY_CASES.values(), ids=APPLY_CASES.keys()
)
async def test_apply_stores_what_the_lines_said_for_three_assets_of_a_batch(
    store: PostgresStore,
    database_url: str,
    rows_for: RowsFor,
    counts: ApplyCounts,
    stored_for: RowsFor,
) -> None:
    ids = insert_assets(database_url, 3, batch_id="b1")
    await store.record_statuses([openai_batch("b1", "completed")])
    assert await store.apply_results("b1", rows_for(ids)) == counts
    stored = {
        asset: (tags, error)
        for asset, tags, error in fetch_all(
            database_url, "select id::text, tags, auto_tag_error from public.assets"
        )
    }
    assert stored == stored_for(ids)
