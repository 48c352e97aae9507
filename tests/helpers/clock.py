"""A controllable time source, so tests move time instead of waiting for it."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """Call it for the time in seconds; ``advance`` moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    """Like ``Clock``, for code that reads the wall clock as an aware ``datetime``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
