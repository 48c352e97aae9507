"""Exponential backoff as a value, not a loop with hidden state.

A poller asks ``backoff.delay``, and on failure keeps ``backoff.next()``; on success it
keeps ``backoff.reset()``. Being frozen, a backoff can be shared, logged and tested
without a clock. Jitter (off by default) spreads retries of many clients apart; its
random draw happens in :meth:`Backoff.next`, so ``delay`` stays a plain value.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait before attempt ``attempt + 1``: ``initial * factor**attempt``, capped.

    ``jitter`` in [0, 1] shortens each delay by up to that fraction (``draw`` is the
    random part, in [0, 1)).
    """

    initial: float = 2.0
    maximum: float = 60.0
    factor: float = 2.0
    attempt: int = 0
    jitter: float = 0.0
    draw: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError(f"initial delay must be positive, got {self.initial}")
        if self.maximum < self.initial:
            raise ValueError(f"maximum {self.maximum} is below initial {self.initial}")
        if self.factor < 1:
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if self.attempt < 0:
            raise ValueError(f"attempt cannot be negative, got {self.attempt}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if not 0.0 <= self.draw < 1.0:
            raise ValueError(f"draw must be in [0, 1), got {self.draw}")

    @property
    def base_delay(self) -> float:
        """The capped exponential delay before jitter."""
        try:
            return min(self.maximum, self.initial * self.factor**self.attempt)
        except OverflowError:
            return self.maximum

    @property
    def delay(self) -> float:
        """Seconds to wait now."""
        return self.base_delay * (1.0 - self.jitter * self.draw)

    def next(self, rand: Callable[[], float] = random.random) -> Backoff:
        """The backoff after one more failure (``rand`` is used only when jitter is on)."""
        draw = rand() if self.jitter else 0.0
        return replace(self, attempt=self.attempt + 1, draw=draw)

    def reset(self) -> Backoff:
        """Back to the first delay, after a success."""
        return replace(self, attempt=0, draw=0.0)
