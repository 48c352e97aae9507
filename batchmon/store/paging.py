"""Chunks going in and pages coming out: what both stores do the same way.

Every list function of the SQL API returns at most :data:`PAGE_ROWS` rows per call
(PostgREST on Supabase cuts any function result at ``db-max-rows``, 1,000 there) and
takes the last row's sort key as a cursor, so a store reads a long list page by page
until a short page says it has reached the end.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

#: Rows per page of the SQL list functions (``batchmon_page_limit`` in 004_functions.sql).
PAGE_ROWS = 1000
#: A limit for lists that have none of their own (the monitoring query).
ALL_ROWS = 1 << 62

Cursor = tuple[Any, ...]


async def chunks(rows: AsyncIterable[T] | Iterable[T], size: int) -> AsyncIterator[list[T]]:
    """``rows`` in lists of ``size`` (the last may be shorter), sync or async input."""
    if isinstance(rows, AsyncIterable):
        chunk: list[T] = []
        async for row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


async def read_pages(
    fetch: Callable[[Cursor | None, int], Awaitable[list[T]]],
    cursor_of: Callable[[T], Cursor],
    limit: int,
) -> list[T]:
    """Up to ``limit`` rows, asking ``fetch(cursor, size)`` for one page at a time."""
    rows: list[T] = []
    cursor: Cursor | None = None
    while len(rows) < limit:
        size = min(PAGE_ROWS, limit - len(rows))
        page = await fetch(cursor, size)
        rows.extend(page)
        if len(page) < size:
            break
        cursor = cursor_of(page[-1])
    return rows
