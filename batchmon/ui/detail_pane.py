"""Everything about one batch: what happened when, what went wrong, which assets it holds.

The table answers "how are my batches doing"; this pane answers "why did this one end
like that, and what will Retry resubmit". It only displays a :class:`BatchDetail` it is
handed (loading it is the window's job), so it is quick to test with plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from batchmon.core.formatting import format_duration
from batchmon.core.status import STATE_TIMESTAMPS
from batchmon.store.protocol import AssetRow, BatchRow
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.progress_delegate import ProgressBar
from batchmon.ui.resources import status_color, status_icon
from batchmon.ui.results_view import sentence, short_note
from batchmon.ui.table_model import item_status, progress_text, status_label, status_text
from batchmon.ui.time_base import REAL_TIME, TimeBase

#: The ``*_at`` fields in the order a batch lives through them, then the window's end.
TIMELINE_FIELDS: tuple[tuple[str, str], ...] = (
    *(
        (field, "Created" if field == "created_at" else status_label(status))
        for status, field in STATE_TIMESTAMPS
    ),
    ("expires_at", "Window ends"),
)
RETRY_TEXT = "Retry failed requests"
MAX_ASSET_ROWS = 1000
SAMPLES_PER_GROUP = 3


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Error-file lines that share a code: how many, and a few to read."""

    code: str
    count: int
    samples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchDetail:
    """What the pane shows for one batch; the window loads it from store and API."""

    batch: BatchRow
    assets: Sequence[AssetRow] = ()
    error_groups: Sequence[ErrorGroup] = ()
    errors_note: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def group_errors(
    lines: Iterable[tuple[str | None, str]], samples: int = SAMPLES_PER_GROUP
) -> list[ErrorGroup]:
    """Group ``(code, sample)`` pairs by code, most frequent first, keeping a few samples."""
    counts: dict[str, int] = {}
    kept: dict[str, list[str]] = {}
    for code, sample in lines:
        key = code or "unknown_error"
        counts[key] = counts.get(key, 0) + 1
        bucket = kept.setdefault(key, [])
        if len(bucket) < samples:
            bucket.append(sample)
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return [ErrorGroup(code, counts[code], tuple(kept[code])) for code in order]


def format_time(value: datetime, base: TimeBase = REAL_TIME) -> str:
    """Local wall-clock time, as a person reads it (demo times mapped back to the wall)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    wall = datetime.fromtimestamp(base.to_wall(aware.timestamp()), UTC)
    return wall.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def summarise(item: BatchItem) -> str:
    """One sentence on how the batch stands, from the counts the table shows too."""
    if item.results_state:
        return sentence(item.results_note or short_note(item.results_state, None))
    p = item.progress
    status = item.status
    not_run = max(0, p.total - p.done)
    counts = f"{p.completed} of {p.total} succeeded"
    if p.failed:
        counts += f", {p.failed} failed"
    if not_run and status in ("expired", "cancelled"):
        counts += f", {not_run} not run"
    match status:
        case "completed" if p.total and p.completed == 0:
            return f"All {p.total} requests failed"
        case "completed" if p.failed:
            return f"Completed: {counts}"
        case "completed":
            return f"All {p.total} requests succeeded"
        case "failed":
            return "Failed validation: no request ran"
        case "expired":
            return f"Expired before finishing: {counts}"
        case "cancelled":
            return f"Cancelled: {counts}"
        case _ if p.total:
            return f"{status_label(status)}: {p.done} of {p.total} done"
        case _:
            return status_label(status)


def _tree(headers: Sequence[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(list(headers))
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    tree.setFrameShape(QFrame.Shape.NoFrame)
    tree.header().setStretchLastSection(True)
    tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return tree


class DetailPane(QWidget):
    """Shows one :class:`BatchDetail`; asks for Retry/Cancel and lineage jumps by signal."""

    retry_requested = Signal(str)
    cancel_requested = Signal(str)
    batch_link_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._detail: BatchDetail | None = None
        self._time_base = REAL_TIME
        self._stack = QStackedWidget(self)
        self._empty = QLabel("Select a batch to see its timeline, errors and assets.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)
        self._stack.addWidget(self._empty)
        self._stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

    # -- construction -------------------------------------------------------------------

    def _build_content(self) -> QWidget:
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(12, 10, 12, 8)
        outer.setSpacing(8)

        head = QHBoxLayout()
        self.status_icon_label = QLabel()
        self.status_icon_label.setFixedSize(20, 20)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setStyleSheet("font-family: monospace; font-size: 10pt; font-weight: 600;")
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy ID")
        self.copy_button.setToolTip("Copy the batch id to the clipboard")
        self.copy_button.clicked.connect(self.copy_batch_id)
        head.addWidget(self.status_icon_label)
        head.addWidget(self.title, 1)
        head.addWidget(self.copy_button)
        outer.addLayout(head)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: 600;")
        outer.addWidget(self.summary)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.facts)

        self.progress = ProgressBar()
        outer.addWidget(self.progress)
        self.counts = QLabel()
        outer.addWidget(self.counts)

        self.lineage = QLabel()
        self.lineage.setTextFormat(Qt.TextFormat.RichText)
        self.lineage.setOpenExternalLinks(False)
        self.lineage.linkActivated.connect(self._on_link)
        outer.addWidget(self.lineage)

        buttons = QHBoxLayout()
        self.retry_button = QPushButton(RETRY_TEXT)
        self.retry_button.clicked.connect(self._emit_retry)
        self.cancel_button = QPushButton("Cancel batch")
        self.cancel_button.clicked.connect(self._emit_cancel)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)

        self.tabs = QTabWidget()
        self.timeline = _tree(["Event", "Time", "After creation"])
        self.errors = _tree(["Where", "Code", "Message"])
        self.errors.setRootIsDecorated(True)
        self.assets = _tree(["Asset", "Status", "Tags or error"])
        self.tabs.addTab(self.timeline, "Timeline")
        self.tabs.addTab(self.errors, "Errors")
        self.tabs.addTab(self.assets, "Assets")
        outer.addWidget(self.tabs, 1)
        return content

    # -- public API ---------------------------------------------------------------------

    @property
    def detail(self) -> BatchDetail | None:
        return self._detail

    @property
    def batch_id(self) -> str | None:
        return self._detail.batch.id if self._detail else None

    def set_time_base(self, base: TimeBase) -> None:
        """Show timeline moments on ``base``'s wall clock (the demo's clock runs fast)."""
        self._time_base = base

    def clear(self) -> None:
        """Back to the empty state (nothing selected)."""
        self._detail = None
        self._stack.setCurrentIndex(0)

    def show_detail(
        self,
        detail: BatchDetail,
        *,
        can_retry: bool,
        can_cancel: bool,
        live: BatchItem | None = None,
    ) -> None:
        """Fill every section from ``detail``; the buttons follow the allowed actions.

        ``live`` is the table's item for this batch: when given, status and counts come
        from it, so the pane never shows older numbers than the row next to it.
        """
        same_batch = self._detail is not None and self._detail.batch.id == detail.batch.id
        self._detail = detail
        batch = detail.batch
        item = live if live is not None and live.id == batch.id else BatchItem.from_row(batch)
        self._stack.setCurrentIndex(1)
        self.status_icon_label.setPixmap(status_icon(item_status(item)).pixmap(20, 20))
        self.status_icon_label.setToolTip(status_text(item))
        self.title.setText(batch.id)
        self.title.setToolTip(batch.id)
        colour = status_color(item_status(item)).name()
        self.summary.setText(summarise(item))
        self.summary.setStyleSheet(f"font-weight: 600; color: {colour};")
        self.facts.setText(self._facts_text(batch))
        self._fill_progress(item)
        self._fill_lineage(batch)
        self.retry_button.setVisible(can_retry)
        self.cancel_button.setVisible(can_cancel)
        self.retry_button.setEnabled(can_retry)
        self.cancel_button.setEnabled(can_cancel)
        self._fill_timeline(batch)
        error_count = self._fill_errors(detail)
        self._fill_assets(detail.assets, batch.asset_count)
        self.tabs.setTabText(1, f"Errors ({error_count})" if error_count else "Errors")
        self.tabs.setTabText(2, f"Assets ({max(batch.asset_count, len(detail.assets))})")
        if not same_batch and error_count and batch.status in ("failed", "expired"):
            self.tabs.setCurrentWidget(self.errors)
        elif not same_batch:
            self.tabs.setCurrentWidget(self.timeline)

    def set_busy(self, busy: bool) -> None:
        """Disable the action buttons while an action on this batch runs."""
        self.retry_button.setEnabled(not busy and self.retry_button.isVisible())
        self.cancel_button.setEnabled(not busy and self.cancel_button.isVisible())

    def copy_batch_id(self) -> None:
        if self._detail is not None:
            QGuiApplication.clipboard().setText(self._detail.batch.id)
            self.copy_button.setText("Copied")

    # -- sections -----------------------------------------------------------------------

    @staticmethod
    def _facts_text(batch: BatchRow) -> str:
        parts = []
        if batch.model:
            parts.append(f"Model {batch.model}")
        if batch.endpoint:
            parts.append(batch.endpoint)
        if batch.pending_assets:
            parts.append(f"{batch.asset_count} assets ({batch.pending_assets} awaiting results)")
        else:
            parts.append(f"{batch.asset_count} assets, all results applied")
        if batch.attempt > 1:
            parts.append(f"attempt {batch.attempt}")
        return "  ·  ".join(parts)

    def _fill_progress(self, item: BatchItem) -> None:
        p = item.progress
        text = progress_text(item)
        rejected = p.total == 0 and item.status == "failed"
        self.progress.set_progress(
            (p.completed, p.failed, p.total), text or "not counted yet", alarm=rejected
        )
        not_run = max(0, p.total - p.done)
        if rejected:
            self.counts.setText("No request ran: OpenAI rejected the input file.")
        else:
            self.counts.setText(
                f"Requests: {p.total} total  ·  {p.completed} completed  ·  "
                f"{p.failed} failed" + (f"  ·  {not_run} not run" if not_run else "")
            )
        # Retry of a rejected batch sends every request again, not only failed ones.
        self.retry_button.setText("Resubmit all requests" if rejected else RETRY_TEXT)
        self.copy_button.setText("Copy ID")

    def _fill_lineage(self, batch: BatchRow) -> None:
        links = []
        if batch.retry_of:
            links.append(f'Retry of <a href="{batch.retry_of}">{batch.retry_of}</a>')
        if batch.retried_by:
            links.append(f'Retried by <a href="{batch.retried_by}">{batch.retried_by}</a>')
        self.lineage.setText("  ·  ".join(links))
        self.lineage.setVisible(bool(links))

    def _fill_timeline(self, batch: BatchRow) -> None:
        self.timeline.clear()
        created = batch.created_at
        items = []
        for name, label in TIMELINE_FIELDS:
            value = getattr(batch, name)
            if value is None:
                continue
            after = (
                format_duration((value - created).total_seconds(), precise=True) if created else ""
            )
            when = format_time(value, self._time_base)
            item = QTreeWidgetItem([label, when, "" if value == created else after])
            status = name.removesuffix("_at")
            if status != "expires":
                item.setIcon(0, status_icon("validating" if status == "created" else status))
            items.append((value, item))
        items.sort(key=lambda pair: pair[0])
        self.timeline.addTopLevelItems([item for _, item in items])
        for column in range(2):
            self.timeline.resizeColumnToContents(column)

    def _fill_errors(self, detail: BatchDetail) -> int:
        self.errors.clear()
        total = 0
        for error in detail.batch.errors or []:
            line = error.get("line")
            where = f"line {line}" if line is not None else "input file"
            message = str(error.get("message") or "")
            param = error.get("param")
            if param:
                message += f" (param: {param})"
            item = QTreeWidgetItem([where, str(error.get("code") or ""), message])
            item.setForeground(1, status_color("failed"))
            item.setToolTip(2, message)
            self.errors.addTopLevelItem(item)
            total += 1
        for group in detail.error_groups:
            plural = "line" if group.count == 1 else "lines"
            parent = QTreeWidgetItem([f"{group.count} {plural}", group.code, ""])
            parent.setForeground(1, status_color("failed"))
            parent.setText(2, group.samples[0] if group.samples else "")
            parent.setToolTip(2, parent.text(2))
            for sample in group.samples:
                child = QTreeWidgetItem(["", "", sample])
                child.setToolTip(2, sample)
                parent.addChild(child)
            self.errors.addTopLevelItem(parent)
            total += group.count
        if detail.errors_note:
            self.errors.addTopLevelItem(QTreeWidgetItem(["", "note", detail.errors_note]))
        if total == 0 and not detail.errors_note:
            self.errors.addTopLevelItem(QTreeWidgetItem(["", "", "No errors reported."]))
        for column in range(2):
            self.errors.resizeColumnToContents(column)
        return total

    def _fill_assets(self, assets: Sequence[AssetRow], total: int) -> None:
        self.assets.clear()
        items = []
        for asset in assets[:MAX_ASSET_ROWS]:
            if asset.status == "failed":
                text = asset.error or "failed"
            elif asset.tags:
                text = ", ".join(asset.tags)
            else:
                text = ""
            item = QTreeWidgetItem([asset.id, asset.status or "", text])
            colour = {"completed": "completed", "failed": "failed"}.get(asset.status or "")
            if colour:
                item.setForeground(1, status_color(colour))
            if asset.image_url:
                item.setToolTip(0, asset.image_url)
            items.append(item)
        self.assets.addTopLevelItems(items)
        shown = len(items)
        if max(total, len(assets)) > shown:
            more = max(total, len(assets)) - shown
            self.assets.addTopLevelItem(QTreeWidgetItem(["", "", f"... and {more} more"]))
        for column in range(2):
            self.assets.resizeColumnToContents(column)

    # -- signals ------------------------------------------------------------------------

    def _emit_retry(self) -> None:
        if self._detail is not None:
            self.retry_requested.emit(self._detail.batch.id)

    def _emit_cancel(self) -> None:
        if self._detail is not None:
            self.cancel_requested.emit(self._detail.batch.id)

    def _on_link(self, href: str) -> None:
        self.batch_link_activated.emit(href)
