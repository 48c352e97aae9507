"""Result rows of the SQL functions into the store's dataclasses, from either transport.

psycopg hands back ``uuid.UUID`` objects and ``datetime``\\ s; PostgREST hands back JSON,
with timestamps as ISO 8601 strings. Both may carry columns a dataclass does not
(``claimed_by``). :func:`row_to` makes one of either into the same dataclass: uuids as
``str``, timestamps as ``datetime``, arrays as tuples where the field is a tuple (a null
one as ``()``, or None where the field may be None), and unknown columns left out.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    """What :func:`row_to` needs to know about one dataclass, worked out once."""

    names: tuple[str, ...]
    """In declaration order: keyword arguments in that order construct fastest."""
    texts: tuple[str, ...]
    stamps: tuple[str, ...]
    tuples: tuple[str, ...]
    optional: frozenset[str]
    """Fields that may be None: a null array stays None there, elsewhere it is ()."""


@cache
def _shape(cls: Any) -> _Shape:
    kinds: dict[str, tuple[Any, ...]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds[name] = tuple(typing.get_origin(a) or a for a in args)
    names = tuple(f.name for f in dataclasses.fields(cls))

    def having(kind: type) -> tuple[str, ...]:
        return tuple(n for n in names if kind in kinds[n])

    optional = frozenset(having(types.NoneType))
    return _Shape(names, having(str), having(datetime), having(tuple), optional)


def parse_timestamp(value: Any) -> datetime | None:
    """A timestamp as either transport returns it (``datetime`` or ISO 8601 text)."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise ValueError(f"not a timestamp: {value!r}")


def row_to(cls: type[T], row: Mapping[str, Any]) -> T:
    """One result row as ``cls``; unknown columns are ignored, values made uniform."""
    target: Any = cls  # classes are hashable; mypy cannot see that through type[T]
    shape = _shape(target)
    values = {name: row[name] for name in shape.names if name in row}
    for name in shape.texts:
        if values.get(name).__class__ is UUID:
            values[name] = str(values[name])
    for name in shape.stamps:
        if values.get(name).__class__ is str:
            values[name] = parse_timestamp(values[name])
    for name in shape.tuples:
        if name in values and not (values[name] is None and name in shape.optional):
            values[name] = tuple(values[name] or ())
    return cls(**values)


def rows_to(cls: type[T], rows: list[Mapping[str, Any]]) -> list[T]:
    """Every row as ``cls``."""
    return [row_to(cls, row) for row in rows]
