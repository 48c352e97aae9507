"""Clocks for the simulator: batch state is derived from the clock on every request.

A test uses ManualClock and moves time explicitly, so a 24 h completion window passes in
microseconds and nothing depends on wall time. The demo uses ScaledClock, where one real
second is `scale` simulated seconds, and can still be pushed forward with advance().
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed, realistic epoch for tests


@runtime_checkable
class Clock(Protocol):
    """Anything that tells simulated time (unix seconds) and can be pushed forward."""

    def now(self) -> float: ...

    def advance(self, seconds: float) -> float: ...


class ManualClock:
    """Time that moves only when told to: deterministic tests."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got advance({seconds})")
        with self._lock:
            self._now += float(seconds)
            return self._now


class ScaledClock:
    """Wall time sped up: `scale` simulated seconds pass per real second."""

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive; got {scale}")
        self.scale = float(scale)
        self._start = time.time() if start is None else float(start)
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._start + (time.monotonic() - self._mono0) * self.scale + self._offset

    def advance(self, seconds: float) -> float:
        """Jump ahead by `seconds` on top of the scaled flow of time."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got advance({seconds})")
        with self._lock:
            self._offset += float(seconds)
        return self.now()
