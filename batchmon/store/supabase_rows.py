"""PostgREST JSON rows into the store's dataclasses.

PostgREST returns timestamps as ISO 8601 strings and extra columns the dataclasses do
not carry (``claimed_by``); this turns one into the other without losing a typed field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from batchmon.store.protocol import StoreError

T = TypeVar("T")


@cache
def _datetime_fields(cls: Any) -> frozenset[str]:
    hints = typing.get_type_hints(cls)
    found = set()
    for name, hint in hints.items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if datetime in args:
            found.add(name)
    return frozenset(found)


@cache
def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def parse_timestamp(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise ValueError(f"not a timestamp: {value!r}")


def row_to(cls: type[T], row: Any) -> T:
    """One JSON object as ``cls``; unknown keys are ignored, timestamps parsed."""
    if not isinstance(row, Mapping):
        raise StoreError(f"unexpected reply from Supabase: expected a row, got {row!r:.200}")
    target: Any = cls  # classes are hashable; mypy cannot see that through type[T]
    names = _field_names(target)
    stamps = _datetime_fields(target)
    values = {k: (parse_timestamp(v) if k in stamps else v) for k, v in row.items() if k in names}
    return cls(**values)


def rows_to(cls: type[T], data: Any) -> list[T]:
    """A PostgREST result (array, single object or null) as a list of ``cls``."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        return [row_to(cls, data)]
    if not isinstance(data, list):
        raise StoreError(f"unexpected reply from Supabase: expected rows, got {data!r:.200}")
    return [row_to(cls, row) for row in data]


def to_json_value(value: Any) -> Any:
    """Make a value JSON-safe for an RPC argument (datetimes as ISO strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(v) for v in value]
    return value
