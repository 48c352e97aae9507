"""The tray icon: the worst current state at a glance, where the desktop has a tray.

GNOME shows no tray by default, so nothing depends on this: notifications and the
in-window banner carry every message; the tray only adds a glance and a small menu.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from batchmon.core.status import PENDING_STATUSES, Progress
from batchmon.ui.resources import TrayState, app_icon, tray_icon
from batchmon.ui.results_view import needs_attention

SAVINGS_NOTE = "Batch API - 50% savings"

log = logging.getLogger(__name__)


class TrayItem(Protocol):
    """What the tray needs from a batch (a ``BatchItem`` fits): status, progress, lineage."""

    @property
    def status(self) -> str: ...

    @property
    def progress(self) -> Progress: ...

    @property
    def asset_count(self) -> int | None: ...

    @property
    def id(self) -> str: ...

    @property
    def retried_by(self) -> str | None: ...

    @property
    def results_state(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TraySummary:
    """Icon state, badge count and tooltip for a set of batches."""

    state: TrayState
    count: int
    tooltip: str


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("s", "ch")) else f"{n} {word}s"


def _broken(item: TrayItem) -> bool:
    """Ended without every request succeeding (a partial batch counts), or its results
    cannot all arrive (incomplete, not found, expired): a person has to act.

    A ``failed`` batch that only waits for queue room is not broken: it goes again.
    """
    if needs_attention(item.results_state):
        return True
    if item.results_state in ("waiting_for_queue", "resubmitted"):
        return False
    if item.status in ("failed", "expired"):
        return True
    return item.status == "completed" and item.progress.failed > 0


def _needs_attention(item: TrayItem, by_id: dict[str, TrayItem]) -> bool:
    """A broken batch needs a person unless its retry took over.

    Follows ``retried_by`` to the newest retry: a retry that succeeded resolves the
    whole chain; one still running or cancelled leaves the original counted (nothing is
    fixed yet); one that broke again counts by itself, so a chain is counted once.
    """
    if not _broken(item):
        return False
    seen = {item.id}
    latest = item
    while latest.retried_by is not None and latest.retried_by in by_id:
        latest = by_id[latest.retried_by]
        if latest.id in seen:
            break
        seen.add(latest.id)
    if latest is item:
        return True
    if _broken(latest):
        return False
    return latest.status != "completed"


def tray_summary(items: Iterable[TrayItem], *, demo: bool = False) -> TraySummary:
    """Worst state first: needs attention > running > completed > idle.

    The count is how many batches are in that worst state; a failure whose retry
    succeeded no longer needs attention. The tooltip says what is being worked on,
    e.g. "Tagging 20 images... (Batch API - 50% savings)".
    """
    items = list(items)
    by_id = {item.id: item for item in items}
    running = [item for item in items if item.status in PENDING_STATUSES]
    broken = sum(1 for item in items if _needs_attention(item, by_id))
    done = any(item.status == "completed" for item in items)
    prefix = "batchmon (demo)" if demo else "batchmon"
    lines = [prefix]
    if running:
        images = sum(item.asset_count or item.progress.total for item in running)
        lines.append(f"Tagging {_plural(images, 'image')}... ({SAVINGS_NOTE})")
    if broken:
        lines.append(f"{_plural(broken, 'batch')} {'needs' if broken == 1 else 'need'} attention")
    if not running and not broken:
        lines.append("Nothing running")
    tooltip = "\n".join(lines)
    if broken:
        return TraySummary("failed", broken, tooltip)
    if running:
        return TraySummary("running", len(running), tooltip)
    if done:
        return TraySummary("completed", 0, tooltip)
    return TraySummary("idle", 0, tooltip)


class Tray(QObject):
    """Wraps a :class:`QSystemTrayIcon` when the desktop has a tray; inert otherwise."""

    open_requested = Signal()
    pause_toggled = Signal(bool)
    notifications_paused_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = TraySummary("idle", 0, "batchmon")
        self.icon: QSystemTrayIcon | None = None
        self.menu = QMenu(parent)
        self.open_action = QAction("Open batchmon", self.menu)
        self.open_action.triggered.connect(self.open_requested)
        self.pause_action = QAction("Pause polling", self.menu)
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.pause_toggled)
        self.pause_notifications_action = QAction("Pause notifications for an hour", self.menu)
        self.pause_notifications_action.setCheckable(True)
        self.pause_notifications_action.toggled.connect(self.notifications_paused_toggled)
        self.quit_action = QAction("Quit", self.menu)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # shown; the window handles it
        self.quit_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.quit_action.triggered.connect(self.quit_requested)
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.pause_action)
        self.menu.addAction(self.pause_notifications_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon(app_icon(), self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)
            self.icon.show()
            log.info("tray icon shown")
        else:
            log.info("no system tray on this desktop: notifications and the banner only")

    @property
    def available(self) -> bool:
        return self.icon is not None

    def set_paused(self, paused: bool) -> None:
        """Mirror the window's pause state without re-emitting it."""
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)

    def set_notifications_paused(self, paused: bool) -> None:
        """Mirror the notifications' pause without re-emitting it."""
        self.pause_notifications_action.blockSignals(True)
        self.pause_notifications_action.setChecked(paused)
        self.pause_notifications_action.blockSignals(False)

    def show_summary(self, summary: TraySummary) -> None:
        if summary == self.summary:
            return
        self.summary = summary
        if self.icon is not None:
            self.icon.setIcon(tray_icon(summary.state, summary.count))
            self.icon.setToolTip(summary.tooltip)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
