"""Terminal output for the CLI: times, tables, JSON and a progress line.

Kept apart from the commands so every command prints times and tables the same way,
and progress goes to stderr (stdout stays clean for ``--json`` and pipes).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO


def write_json(payload: object, out: TextIO) -> None:
    """Indented JSON and a final newline: what ``--json`` prints."""
    json.dump(payload, out, indent=2)
    out.write("\n")


def short_time(value: datetime | None) -> str:
    """Local ``YYYY-MM-DD HH:MM`` or ``-``."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Left-aligned columns separated by two spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for line in (headers, *rows):
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        out.write("\n")


class ProgressLine:
    """A one-line progress display on stderr: redrawn on a terminal, throttled otherwise."""

    def __init__(self, label: str, *, stream: TextIO | None = None, every: float = 2.0) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._every = every
        self._last = 0.0
        self._shown = False

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self._tty:
            self._stream.write(f"\r\033[K{self._label}: {text}")
            self._stream.flush()
            self._shown = True
        elif now - self._last >= self._every:
            self._stream.write(f"{self._label}: {text}\n")
            self._stream.flush()
            self._last = now

    def done(self, text: str | None = None) -> None:
        if self._tty and self._shown:
            self._stream.write("\r\033[K")
        if text:
            self._stream.write(f"{self._label}: {text}\n")
        self._stream.flush()
