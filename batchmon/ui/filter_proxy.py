"""Status filter and search box over the batch table, plus sorting by ``SortRole``.

Filtering lives in a proxy so the source model stays a plain mirror of the batch list:
filtering and sorting never reset or reorder the source, and the proxy's dynamic
filtering re-checks only the rows a tick changed.

The filter is a regular expression over the model's ``FilterRole`` text, evaluated by
Qt itself, rather than a Python ``filterAcceptsRow``: with no filter set Qt accepts a
row without calling into Python at all, which matters because the proxy re-checks every
row of every ``dataChanged`` (10,000 rows each second when the time column refreshes).
Sorting compares the model's cached sort keys in one Python call per comparison.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
)

from batchmon.core.status import PENDING_STATUSES
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.table_model import (
    BatchRole,
    BatchTableModel,
    FilterRole,
    SortRole,
    filter_text,
)

STATUS_FILTERS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("All statuses", None),
    ("Running", PENDING_STATUSES),
    ("Completed", frozenset({"completed"})),
    ("Failed or expired", frozenset({"failed", "expired"})),
    ("Cancelled", frozenset({"cancelled", "cancelling"})),
)
"""The status filter's choices: a label and the statuses it shows (None: all)."""


class BatchFilterProxy(QSortFilterProxyModel):
    """Shows batches whose status is in the filter and that match every search word.

    - :meth:`set_statuses`: a set of status strings; None or empty shows every status.
    - :meth:`set_search_text`: whitespace-separated words, each matched (case-insensitive
      substring) against the batch id, the model and the status (raw or as labelled).

    Sorting uses :data:`~batchmon.ui.table_model.SortRole`.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._statuses: frozenset[str] = frozenset()
        self._words: tuple[str, ...] = ()
        self.setSortRole(SortRole)
        self.setFilterRole(FilterRole)
        self.setFilterKeyColumn(0)
        self.setDynamicSortFilter(True)
        self._batch_model: BatchTableModel | None = None
        self.sourceModelChanged.connect(self._sort_source_changed)
        self.sortRoleChanged.connect(self._sort_source_changed)

    @property
    def statuses(self) -> frozenset[str]:
        """The statuses shown (empty: all)."""
        return self._statuses

    @property
    def search_text(self) -> str:
        """The current search words, joined by single spaces."""
        return " ".join(self._words)

    def set_statuses(self, statuses: Iterable[str] | None) -> None:
        """Show only these statuses (None or empty: all)."""
        wanted = frozenset(statuses or ())
        if wanted == self._statuses:
            return
        self._statuses = wanted
        self._apply_filter()

    def set_search_text(self, text: str) -> None:
        """Show only batches matching every word of ``text`` (empty: all)."""
        words = tuple(text.casefold().split())
        if words == self._words:
            return
        self._words = words
        self._apply_filter()

    def _apply_filter(self) -> None:
        """Turn the status set and words into one pattern over :func:`filter_text`."""
        parts = ["^"]
        if self._statuses:
            alternatives = "|".join(
                QRegularExpression.escape(s.casefold()) for s in sorted(self._statuses)
            )
            parts.append(f"\x1f(?:{alternatives})\x1f")
        parts.extend(f"(?=.*{QRegularExpression.escape(word)})" for word in self._words)
        pattern = "".join(parts)
        if len(parts) > 1:
            expression = QRegularExpression(
                pattern, QRegularExpression.PatternOption.DotMatchesEverythingOption
            )
            if not expression.isValid():  # cannot happen for escaped words; be loud if so
                raise ValueError(f"bad filter pattern {pattern!r}: {expression.errorString()}")
        else:
            expression = QRegularExpression()
        self.setFilterRegularExpression(expression)

    def item_for(self, proxy_index: QModelIndex | QPersistentModelIndex) -> BatchItem | None:
        """The batch behind a row of this proxy (None for an invalid index)."""
        if not proxy_index.isValid():
            return None
        item = self.mapToSource(proxy_index).data(BatchRole)
        return item if isinstance(item, BatchItem) else None

    def accepts(self, item: BatchItem) -> bool:
        """The filter itself, for one item (also used by "Retry all failed" and tests)."""
        if self._statuses and item.status not in self._statuses:
            return False
        if not self._words:
            return True
        haystack = filter_text(item)
        return all(word in haystack for word in self._words)

    # -- sorting -------------------------------------------------------------------------

    def _sort_source_changed(self, *_: object) -> None:
        """Compare cached keys directly only while sorting a batch table by ``SortRole``."""
        source = self.sourceModel()
        fast = isinstance(source, BatchTableModel) and self.sortRole() == SortRole
        self._batch_model = source if fast and isinstance(source, BatchTableModel) else None

    def lessThan(
        self,
        source_left: QModelIndex | QPersistentModelIndex,
        source_right: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        model = self._batch_model
        if model is None:
            return super().lessThan(source_left, source_right)
        column = source_left.column()
        left = model.sort_key(source_left.row(), column)
        right = model.sort_key(source_right.row(), column)
        return bool(left < right)
