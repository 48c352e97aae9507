"""Does the app's own ``assets`` table fit batchmon? Asked before a migration changes anything.

batchmon extends an existing ``public.assets`` (it adds missing columns, never alters
one), and its SQL functions read and write those columns with fixed types. A column of
another type would make a migration fail half-way or a later apply fail; this names
every misfit at once, so the person can decide before the database is touched.
"""

from __future__ import annotations

import psycopg

# Column -> (the types batchmon accepts, how a message names what it needs). ``None``
# accepts any string type (text, varchar, char).
_NEEDED: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "id": (("uuid",), "uuid"),
    "user_id": (("uuid",), "uuid (auth.uid())"),
    "tags": (("text[]", "jsonb"), "text[] or jsonb"),
    "auto_tag_status": (None, "text"),
    "openai_batch_id": (None, "text"),
    "auto_tag_error": (None, "text"),
    "image_url": (None, "text"),
    "created_at": (("timestamp with time zone",), "timestamptz"),
    "tagged_at": (("timestamp with time zone",), "timestamptz"),
}

_COLUMNS = """
select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), t.typcategory
from pg_catalog.pg_attribute a
join pg_catalog.pg_type t on t.oid = a.atttypid
where a.attrelid = to_regclass('public.assets') and a.attnum > 0 and not a.attisdropped
"""


def assets_misfits(conn: psycopg.Connection) -> list[str]:
    """What in an existing ``public.assets`` batchmon cannot use (empty: it fits)."""
    columns = {name: (type_name, category) for name, type_name, category in conn.execute(_COLUMNS)}
    found = []
    for name, (accepted, needed) in _NEEDED.items():
        if name not in columns:
            continue  # missing columns are added by 002_tables.sql
        type_name, category = columns[name]
        fits = category == "S" if accepted is None else type_name.split("(")[0] in accepted
        if not fits:
            found.append(f"{name} is {type_name} (batchmon needs {needed})")
    return found
