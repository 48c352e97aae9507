"""A one-line message across the top of the window, with an optional action button.

Where the app tells the person what just happened (a retry made, an error, the demo's
welcome) without taking the focus away from the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar, Literal

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

log = logging.getLogger(__name__)

Level = Literal["info", "success", "warning", "error"]


class Banner(QFrame):
    """A one-line message across the top of the window, with an optional action."""

    _STYLES: ClassVar[dict[str, tuple[str, str]]] = {
        "info": ("#EFF6FF", "#1E3A8A"),
        "success": ("#F0FDF4", "#14532D"),
        "warning": ("#FFFBEB", "#78350F"),
        "error": ("#FEF2F2", "#7F1D1D"),
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QToolButton()
        self.action_button.hide()
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self.level: Level = "info"
        self._action: Callable[[], object] | None = None
        self.action_button.clicked.connect(self._run_action)
        self._auto_hide = QTimer(self)
        self._auto_hide.setSingleShot(True)
        self._auto_hide.timeout.connect(self.hide)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(
        self,
        text: str,
        level: Level = "info",
        *,
        action_text: str | None = None,
        action: Callable[[], object] | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        """Show ``text``; info and success messages go away by themselves after a while."""
        background, foreground = self._STYLES[level]
        self.level = level
        self.setStyleSheet(
            f"Banner {{ background: {background}; border-bottom: 1px solid {foreground}33; }}"
            f"QLabel {{ color: {foreground}; }}"
        )
        self.label.setText(text)
        self._action = action
        self.action_button.setVisible(bool(action_text and action))
        self.action_button.setText(action_text or "")
        self.show()
        if timeout_ms is None:
            timeout_ms = 8000 if level in ("info", "success") else 0
        if timeout_ms:
            self._auto_hide.start(timeout_ms)
        else:
            self._auto_hide.stop()

    def _run_action(self) -> None:
        action = self._action
        self.hide()
        if action is not None:
            action()

    def show_error(self, what: str, exc: BaseException) -> None:
        """Show an error (with its hint, when it has one) and log it with its traceback."""
        hint = getattr(exc, "hint", None)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        text = f"{what}: {message}"
        if hint and hint not in text:
            text += f" — {hint}"
        log.error("%s", text, exc_info=(type(exc), exc, exc.__traceback__))
        self.show_message(text, "error")
