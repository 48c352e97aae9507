"""Fault settings and a response-losing wrapper shared by the fault-matrix tests.

The simulator's own faults strike before a request is handled (429/500/503, dropped
connections) or while a file streams (truncation). The wrapper adds the one fault that
makes creates dangerous: the server *did* create the batch, then the answer was lost.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchmon.sim import FaultConfig, SimulatedDisconnect


def bad_day(seed: int, *, match: str | None = None) -> FaultConfig:
    """20% of responses 429/500/503, plus drops, truncated downloads and latency spikes."""
    return FaultConfig(
        seed=seed,
        rate_limit_rate=0.08,
        retry_after=0.0,
        server_error_rate=0.12,
        drop_rate=0.05,
        truncate_rate=0.3,
        latency_rate=0.1,
        latency_seconds=0.01,
        match=match,
    )


@dataclass
class LoseResponses:
    """ASGI wrapper: run matching requests fully, then drop the connection unanswered."""

    app: ASGIApp
    pattern: str
    rate: float
    seed: int = 0
    lost: int = 0
    _rng: random.Random = field(init=False)
    _re: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._re = re.compile(self.pattern)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._re.search(f"{scope['method']} {scope['path']}"):
            await self.app(scope, receive, send)
            return
        if self._rng.random() >= self.rate:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))

        await self.app(scope, receive, swallow)
        self.lost += 1
        raise SimulatedDisconnect(
            f"simulated lost response ({status[0] if status else '?'}) to {scope['path']}"
        )
