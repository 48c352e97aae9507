"""Status filter and search box over the batch table, plus sorting by ``SortRole``.

Filtering lives in a proxy so the source model stays a plain mirror of the batch list:
filtering and sorting never reset or reorder the source, and the proxy's dynamic
filtering re-checks only the rows a tick changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

from batchmon.ui.batch_list import BatchItem
from batchmon.ui.table_model import BatchRole, BatchTableModel, SortRole, status_label


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
        self.setDynamicSortFilter(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

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
        self.beginFilterChange()
        self._statuses = wanted
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search_text(self, text: str) -> None:
        """Show only batches matching every word of ``text`` (empty: all)."""
        words = tuple(text.casefold().split())
        if words == self._words:
            return
        self.beginFilterChange()
        self._words = words
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

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
        haystack = " ".join(
            (item.id, item.model or "", item.status, status_label(item.status))
        ).casefold()
        return all(word in haystack for word in self._words)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if not self._statuses and not self._words:
            return True
        source = self.sourceModel()
        if isinstance(source, BatchTableModel):
            item: object = source.item_at(source_row)
        else:
            item = source.index(source_row, 0, source_parent).data(BatchRole)
        return isinstance(item, BatchItem) and self.accepts(item)
