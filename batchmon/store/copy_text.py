"""Result rows as COPY text lines for the apply staging table.

psycopg's generic row writer adapts every value through its type machinery; for a
``text[]`` of tags that costs more than parsing the line it came from. The staging
table takes four simple columns, so the rows are written here directly in PostgreSQL's
COPY text format (tab-separated, backslash escapes, ``\\N`` for null), with the tags as
an array literal whose every element is quoted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from batchmon.store.protocol import ResultRow

NULL = "\\N"
#: PostgreSQL text (and jsonb) cannot hold U+0000; a model that emits one must not make
#: the whole batch fail, so it is stored as the replacement character instead.
NUL_REPLACEMENT = "\ufffd"
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x00]")
_FLAGS = {True: "t", False: "f"}
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": NUL_REPLACEMENT}
)


def storable(text: str) -> str:
    """``text`` with any NUL replaced, as PostgreSQL text and jsonb require."""
    return text.replace("\x00", NUL_REPLACEMENT) if "\x00" in text else text


def copy_field(text: str) -> str:
    """``text`` escaped for one field of a COPY text line (NUL replaced, see above)."""
    return text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text


def array_literal(items: Iterable[str]) -> str:
    """A ``text[]`` literal with every element quoted (so commas, braces, spaces and the
    word NULL stay plain text), before COPY escaping."""
    values = list(items)
    if not values:
        return "{}"
    plain = "".join(values)
    if '"' in plain or "\\" in plain:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def asset_uuid(value: object) -> str:
    """The asset id in canonical form, or NULL when it is not a UUID (the SQL skips it)."""
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError):
        return NULL


def copy_lines(rows: Iterable[ResultRow]) -> str:
    """COPY text for ``(asset_id, ok, tags, error)``, one line per row."""
    out = []
    for row in rows:
        tags = NULL if row.tags is None else copy_field(array_literal(row.tags))
        error = NULL if row.error is None else copy_field(row.error)
        flag = _FLAGS.get(row.ok, NULL)  # not a bool: NULL, which the NOT NULL column refuses
        out.append(f"{asset_uuid(row.asset_id)}\t{flag}\t{tags}\t{error}\n")
    return "".join(out)
