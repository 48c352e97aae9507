"""Terminal output for the CLI: durations, tables, JSON and a progress line.

Kept apart from the commands so every command prints times and tables the same way,
and progress goes to stderr (stdout stays clean for ``--json`` and pipes).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TextIO

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``5m``, ``1.5h``, ``2d`` -> timedelta (argparse type)."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number with s, m, h or d (e.g. 60s, 5m)"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    return timedelta(seconds=seconds)


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


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
