"""The clock the batches live on, for everything the window says about time.

Real batches live on the wall clock and OpenAI's usual pace. The demo's live on its
simulator's sped-up clock (a day a minute): their time in state is demo time, their
"stuck?" limits must follow the demo's own phase lengths, and the moment a person saw
them created is a wall-clock moment. One :class:`TimeBase` carries all three, so the
table and the detail pane cannot mix clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from batchmon.core.status import DEFAULT_STUCK_LIMITS, StuckLimits


def _same(seconds: float) -> float:
    return seconds


@dataclass(frozen=True, slots=True)
class TimeBase:
    """``now`` (unix seconds on the batches' clock), stuck limits, and the way back to
    wall-clock seconds for display."""

    now: Callable[[], float] = field(default=time.time)
    stuck_limits: StuckLimits = DEFAULT_STUCK_LIMITS
    to_wall: Callable[[float], float] = field(default=_same)


REAL_TIME = TimeBase()
"""OpenAI's clock: the wall clock, the default limits."""


def scaled_time_base(now: Callable[[], float], scale: float, stuck_limits: StuckLimits) -> TimeBase:
    """A clock ``scale`` times faster than the wall clock, anchored at this moment."""
    wall0, clock0 = time.time(), now()

    def to_wall(seconds: float) -> float:
        return wall0 + (seconds - clock0) / scale

    return TimeBase(now=now, stuck_limits=stuck_limits, to_wall=to_wall)
