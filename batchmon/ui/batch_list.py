"""The desktop's list of batches, without Qt: takes snapshots, emits row changes.

Poll passes (live ``openai.types.Batch`` objects), push changes and store rows
(:class:`~batchmon.store.protocol.BatchRow`) all update one :class:`BatchList`, keyed by
batch id. It compares each new observation with what it holds and tells its listeners
exactly which rows appeared, disappeared or changed, and which columns of a changed row
differ, so the Qt model (:mod:`batchmon.ui.table_model`) can adapt it with
``beginInsertRows``/``dataChanged`` and never reset. Being plain Python it is tested and
benchmarked without a window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol

from batchmon.core.pricing import Cost, estimate_cost
from batchmon.core.status import TIMESTAMP_FIELDS, Progress, is_terminal, progress
from batchmon.store.protocol import BatchRow, ResultsState

if TYPE_CHECKING:  # importing openai costs a second: not before the window is shown
    from openai.types import Batch, BatchUsage
    from openai.types.batch import Errors

log = logging.getLogger(__name__)

P = ParamSpec("P")


class SyncLike(Protocol):
    """The part of the engine's ``SyncResult`` the list reads."""

    @property
    def batches(self) -> Mapping[str, Batch]: ...


class Column(IntEnum):
    """The table's columns, in display order (the model's column numbers)."""

    ID = 0
    STATUS = 1
    PROGRESS = 2
    ASSETS = 3
    MODEL = 4
    CREATED = 5
    TIME = 6
    COST = 7


_COLUMNS: tuple[Column, ...] = tuple(Column)

_ENTERED_FIELDS = tuple(name for name in TIMESTAMP_FIELDS if name != "created_at")
_timestamps = attrgetter(*TIMESTAMP_FIELDS)
"""Every ``*_at`` a batch reports, in lifecycle order: what the time cell depends on."""


class Callbacks(Generic[P]):
    """A minimal signal: callables connected in order, called with the same arguments.

    A listener that raises is logged and skipped, so one broken view cannot stop the
    others from hearing about a change.
    """

    __slots__ = ("_callbacks",)

    def __init__(self) -> None:
        self._callbacks: list[Callable[P, object]] = []

    def connect(self, callback: Callable[P, object]) -> None:
        """Call ``callback`` on every emit from now on."""
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[P, object]) -> None:
        """Stop calling ``callback``; a callback that was never connected is an error."""
        self._callbacks.remove(callback)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every connected callback."""
        if not self._callbacks:
            return
        for callback in list(self._callbacks):
            try:
                callback(*args, **kwargs)
            except Exception:
                log.exception("batch list listener %r failed", callback)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One row: the latest batch snapshot plus what only the store knows.

    ``batch`` is always an ``openai.types.Batch`` (rows from the store are converted by
    :func:`batch_from_row`), so every figure comes from :mod:`batchmon.core`.
    ``asset_count``/``pending_assets`` are None until the store has reported them.
    ``progress``, ``cost`` and ``cell_keys`` are computed once, when the item is made, so
    a poll tick compares a few plain tuples per row instead of whole SDK objects.
    """

    batch: Batch
    asset_count: int | None = None
    pending_assets: int | None = None
    retry_of: str | None = None
    retried_by: str | None = None
    results_state: str | None = None
    """What the worker knows beyond the status (``Store.results_states``), or None."""
    results_note: str | None = None
    progress: Progress = field(init=False, compare=False)
    cost: Cost = field(init=False, compare=False)
    cell_keys: tuple[object, ...] = field(init=False, compare=False, repr=False)
    """One value per :class:`Column` holding everything that cell shows: equal keys mean
    an identical cell (see :func:`changed_columns`)."""

    def __post_init__(self) -> None:
        batch = self.batch
        done = progress(batch)
        cost = estimate_cost(batch.model, batch.usage, batch.request_counts)
        counts = (done.completed, done.failed, done.total)
        status, created_at = batch.status, batch.created_at
        setattr_ = object.__setattr__
        setattr_(self, "progress", done)
        setattr_(self, "cost", cost)
        setattr_(
            self,
            "cell_keys",
            (
                batch.id,
                (status, self.results_state, self.results_note),
                counts,
                (self.asset_count, self.pending_assets),
                batch.model,
                created_at,
                (status, counts, _timestamps(batch)),
                (cost.batch_usd, cost.standard_usd, cost.saving_usd),
            ),
        )

    def with_batch(self, batch: Batch) -> BatchItem:
        """This item with a newer snapshot; what only the store knows is kept."""
        return replace(self, batch=batch)

    def with_results(self, state: str | None, note: str | None) -> BatchItem:
        """This item with the results state the store now reports (None: none)."""
        return replace(self, results_state=state, results_note=note)

    @property
    def id(self) -> str:
        """The OpenAI batch id (the list's key)."""
        return self.batch.id

    @property
    def status(self) -> str:
        """The batch status as last observed."""
        return self.batch.status

    @property
    def model(self) -> str | None:
        """The model the batch runs (None until OpenAI reports it)."""
        return self.batch.model

    @property
    def created_at(self) -> int:
        """Unix seconds the batch was created."""
        return self.batch.created_at

    @classmethod
    def from_row(cls, row: BatchRow) -> BatchItem:
        """An item for a store row (status as last recorded, plus asset counts, lineage)."""
        return cls(
            batch=batch_from_row(row),
            asset_count=row.asset_count,
            pending_assets=row.pending_assets,
            retry_of=row.retry_of,
            retried_by=row.retried_by,
        )


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _complete_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Fill the detail fields the SDK requires but a stored usage may lack."""
    data: dict[str, Any] = {
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
        **usage,
    }
    if "total_tokens" not in data:
        data["total_tokens"] = data.get("input_tokens", 0) + data.get("output_tokens", 0)
    return data


def batch_from_row(row: BatchRow) -> Batch:
    """The ``Batch`` a store row describes, so store rows and live snapshots look alike.

    Built without validation: a status newer than this SDK must still show up, and bad
    ``usage``/``errors`` JSON is dropped (logged) rather than hiding the whole row.
    """
    from openai.types import Batch, BatchRequestCounts, BatchUsage
    from openai.types.batch import Errors

    usage: BatchUsage | None = None
    if row.usage:
        try:
            usage = BatchUsage.model_validate(_complete_usage(row.usage))
        except (ValueError, TypeError):
            log.warning("batch %s: ignoring unreadable usage %r", row.id, row.usage)
    errors: Errors | None = None
    if row.errors:
        try:
            errors = Errors.model_validate({"object": "list", "data": row.errors})
        except ValueError:
            log.warning("batch %s: ignoring unreadable errors", row.id)
    entered: dict[str, Any] = {name: _epoch(getattr(row, name)) for name in _ENTERED_FIELDS}
    return Batch.model_construct(
        id=row.id,
        object="batch",
        endpoint=row.endpoint or "",
        input_file_id=row.input_file_id or "",
        completion_window="24h",
        status=row.status,
        created_at=_epoch(row.created_at) or 0,
        **entered,
        expires_at=_epoch(row.expires_at),
        output_file_id=row.output_file_id,
        error_file_id=row.error_file_id,
        errors=errors,
        metadata=dict(row.metadata) if row.metadata else None,
        model=row.model,
        request_counts=BatchRequestCounts(
            total=row.total, completed=row.completed, failed=row.failed
        ),
        usage=usage,
    )


def changed_columns(old: BatchItem, new: BatchItem) -> frozenset[Column]:
    """The columns whose cells differ between two items of the same batch.

    Compares each column's precomputed ``cell_keys`` entry (a status change also moves
    the time column, a progress change the time column too: the ETA depends on it).
    A change no column shows (errors, output file, lineage...) reports ``{Column.ID}``
    so listeners reading the whole item (``BatchRole``, the detail pane) still hear of
    it. Identical items report the empty set.
    """
    if old is new:
        return frozenset()
    columns = frozenset(
        [c for c, a, b in zip(_COLUMNS, old.cell_keys, new.cell_keys, strict=True) if a != b]
    )
    if columns:
        return columns
    # Nothing shown differs: only now pay for comparing the whole SDK object.
    return frozenset() if old == new else _ID_ONLY


_ID_ONLY: frozenset[Column] = frozenset({Column.ID})


def _is_stale(current: BatchItem, incoming: BatchItem) -> bool:
    """True when ``incoming`` is an older read than ``current`` (never go backwards).

    A terminal status is final, and request counts only grow within one status; a store
    row recorded before the latest poll must not undo what the poll showed.
    """
    status = current.batch.status
    if is_terminal(status) and not is_terminal(incoming.batch.status):
        return True
    if status == incoming.batch.status:
        return incoming.progress.done < current.progress.done
    return False


class BatchList:
    """Batches in insertion order, keyed by id, announcing every row change.

    Listeners connect to the :class:`Callbacks` attributes:

    - ``about_to_insert(first, last)`` / ``inserted(first, last)``: rows ``first..last``
      (inclusive) are appended; the "about to" call comes before the data exists.
    - ``about_to_remove(first, last)`` / ``removed(first, last)``.
    - ``changed(row, columns)``: the item at ``row`` was replaced; ``columns`` is the
      non-empty frozenset of :class:`Column` whose cells differ.
    - ``changed_many(changes)``: once per update call, after every ``changed``: the list
      of ``(row, columns)`` pairs in ascending row order, so a listener can announce
      neighbouring rows with equal columns in one go (the Qt model does).

    New batches are appended (in one contiguous insert per call, after the changes);
    sorting is the view's job. Updates never reorder rows.
    """

    def __init__(self) -> None:
        self._items: list[BatchItem] = []
        self._rows: dict[str, int] = {}
        self.about_to_insert: Callbacks[[int, int]] = Callbacks()
        self.inserted: Callbacks[[int, int]] = Callbacks()
        self.about_to_remove: Callbacks[[int, int]] = Callbacks()
        self.removed: Callbacks[[int, int]] = Callbacks()
        self.changed: Callbacks[[int, frozenset[Column]]] = Callbacks()
        self.changed_many: Callbacks[[list[tuple[int, frozenset[Column]]]]] = Callbacks()

    # -- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, batch_id: object) -> bool:
        return batch_id in self._rows

    def __iter__(self) -> Any:
        return iter(list(self._items))

    def item(self, row: int) -> BatchItem:
        """The item at ``row`` (IndexError outside ``0..len-1``)."""
        if row < 0:
            raise IndexError(row)
        return self._items[row]

    def get(self, batch_id: str) -> BatchItem | None:
        """The item for ``batch_id``, or None."""
        row = self._rows.get(batch_id)
        return None if row is None else self._items[row]

    def row_of(self, batch_id: str) -> int | None:
        """The row of ``batch_id``, or None."""
        return self._rows.get(batch_id)

    def ids(self) -> list[str]:
        """Batch ids in row order."""
        return [item.id for item in self._items]

    def live_items(self) -> list[BatchItem]:
        """The list's own row storage, not a copy: for a Qt model's per-cell hot path.

        Always the same list object, updated in place before each callback; read it,
        never modify it.
        """
        return self._items

    # -- writing -----------------------------------------------------------------------

    def upsert_batches(self, batches: Iterable[Batch]) -> int:
        """Merge live snapshots (a poll pass): keeps asset counts and lineage.

        Returns how many rows were inserted or changed. Stale snapshots are ignored.
        """
        updates: list[BatchItem] = []
        rows, items = self._rows, self._items
        for batch in batches:
            row = rows.get(batch.id)
            if row is None:
                updates.append(BatchItem(batch))
                continue
            current = items[row]
            if current.batch is not batch:
                fresh = current.with_batch(batch)
                if not _is_stale(current, fresh):
                    updates.append(fresh)
        return self._apply(updates)

    def apply_sync(self, result: SyncLike) -> int:
        """Merge what a sync pass saw (an engine ``SyncResult``: its ``batches`` dict)."""
        return self.upsert_batches(result.batches.values())

    def upsert_rows(self, rows: Iterable[BatchRow]) -> int:
        """Merge store rows: asset counts and lineage always; the status unless stale."""
        updates: list[BatchItem] = []
        for row in rows:
            fresh = BatchItem.from_row(row)
            current = self.get(row.id)
            if current is not None and _is_stale(current, fresh):
                fresh = BatchItem(
                    current.batch, row.asset_count, row.pending_assets, row.retry_of, row.retried_by
                )
            if current is not None:
                fresh = fresh.with_results(current.results_state, current.results_note)
            updates.append(fresh)
        return self._apply(updates)

    def set_results(self, states: Mapping[str, ResultsState], checked: Iterable[str]) -> int:
        """Merge the results states of the ``checked`` batches (absent from ``states``:
        none any more); returns how many rows changed."""
        updates: list[BatchItem] = []
        for batch_id in checked:
            current = self.get(batch_id)
            if current is None:
                continue
            known = states.get(batch_id)
            state, note = (known.state, known.note) if known else (None, None)
            if (state, note) != (current.results_state, current.results_note):
                updates.append(current.with_results(state, note))
        return self._apply(updates)

    def load_rows(self, rows: Iterable[BatchRow]) -> int:
        """Make the list match a complete store snapshot: merge, then drop missing ids.

        Used at start-up and after a push reconnect ("resync"); still incremental.
        """
        rows = list(rows)
        keep = {row.id for row in rows}
        changed = self.upsert_rows(rows)
        return changed + self.remove_many(i for i in self.ids() if i not in keep)

    def remove(self, batch_id: str) -> bool:
        """Drop one batch; False when it was not in the list."""
        return self.remove_many([batch_id]) == 1

    def remove_many(self, batch_ids: Iterable[str]) -> int:
        """Drop batches, announcing each contiguous run of rows once (last rows first)."""
        rows = sorted({r for i in batch_ids if (r := self._rows.get(i)) is not None})
        if not rows:
            return 0
        runs: list[tuple[int, int]] = []
        for row in rows:
            if runs and runs[-1][1] == row - 1:
                runs[-1] = (runs[-1][0], row)
            else:
                runs.append((row, row))
        for first, last in reversed(runs):
            self.about_to_remove.emit(first, last)
            for item in self._items[first : last + 1]:
                del self._rows[item.id]
            del self._items[first : last + 1]
            self._reindex(first)
            self.removed.emit(first, last)
        return len(rows)

    def clear(self) -> None:
        """Drop every batch."""
        self.remove_many(self.ids())

    # -- internals ---------------------------------------------------------------------

    def _reindex(self, start: int) -> None:
        for row in range(start, len(self._items)):
            self._rows[self._items[row].id] = row

    def _apply(self, updates: list[BatchItem]) -> int:
        new_items: dict[str, BatchItem] = {}
        changes: list[tuple[int, frozenset[Column]]] = []
        rows, items = self._rows, self._items
        for item in updates:
            row = rows.get(item.id)
            if row is None:
                new_items[item.id] = item
                continue
            columns = changed_columns(items[row], item)
            items[row] = item
            if columns:
                changes.append((row, columns))
                self.changed.emit(row, columns)
        if changes:
            changes.sort(key=_first)
            self.changed_many.emit(changes)
        touched = len(changes)
        if new_items:
            first = len(items)
            last = first + len(new_items) - 1
            self.about_to_insert.emit(first, last)
            for offset, item in enumerate(new_items.values()):
                items.append(item)
                rows[item.id] = first + offset
            self.inserted.emit(first, last)
            touched += len(new_items)
        return touched


def _first(change: tuple[int, frozenset[Column]]) -> int:
    return change[0]
