"""Server-wide fault injection: what the real API does on a bad day, on demand.

Decisions come from a seeded random stream (four draws per request, whatever is
configured, and a fifth when a malformed-answer rate is set), so a run with the same seed
and the same request sequence injects the same faults. `match` narrows faults to some
requests, e.g. "^POST /v1/batches$".

Besides errors and broken connections, a server (or a proxy in front of it) can answer
200 with something that is not the answer: an HTML page, broken JSON, a JSON value of the
wrong shape, and on a file download an empty body, a short body, or a body that ends
cleanly after some whole lines. Those are the MALFORMED kinds.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from .errors import ApiError, rate_limited, server_error


class Fault(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    DROPPED = "dropped"
    TRUNCATED = "truncated"
    LATENCY = "latency"
    HTML = "html"
    BROKEN_JSON = "broken_json"
    WRONG_SHAPE = "wrong_shape"
    EMPTY_BODY = "empty_body"
    SHORT_BODY = "short_body"
    CUT_LINES = "cut_lines"


ANY_REQUEST_KINDS = {
    "html_rate": Fault.HTML,
    "broken_json_rate": Fault.BROKEN_JSON,
    "wrong_shape_rate": Fault.WRONG_SHAPE,
}
"""Malformed 200s any /v1 call can get."""
DOWNLOAD_KINDS = {
    "empty_body_rate": Fault.EMPTY_BODY,
    "short_body_rate": Fault.SHORT_BODY,
    "cut_lines_rate": Fault.CUT_LINES,
}
"""Malformed 200s only a file download gets."""
_MALFORMED = (*ANY_REQUEST_KINDS, *DOWNLOAD_KINDS)
RATES = (
    "rate_limit_rate",
    "server_error_rate",
    "drop_rate",
    "truncate_rate",
    "latency_rate",
    *_MALFORMED,
)


@dataclass(frozen=True)
class FaultConfig:
    """How often each fault happens (each rate a probability in [0, 1])."""

    seed: int = 0
    rate_limit_rate: float = 0.0
    retry_after: float | None = 1.0
    """Seconds the 429s' Retry-After says; None sends 429s without Retry-After."""
    server_error_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_rate: float = 0.0
    latency_seconds: float = 0.0
    html_rate: float = 0.0
    broken_json_rate: float = 0.0
    wrong_shape_rate: float = 0.0
    empty_body_rate: float = 0.0
    short_body_rate: float = 0.0
    cut_lines_rate: float = 0.0
    match: str | None = None

    def __post_init__(self) -> None:
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1; got {value}")
        if self.rate_limit_rate + self.server_error_rate + self.drop_rate > 1.0:
            raise ValueError("rate_limit_rate + server_error_rate + drop_rate must not exceed 1")
        for group in (ANY_REQUEST_KINDS, DOWNLOAD_KINDS):
            if sum(getattr(self, name) for name in group) > 1.0:
                raise ValueError(f"{' + '.join(group)} must not exceed 1")
        if (self.retry_after is not None and self.retry_after < 0) or self.latency_seconds < 0:
            raise ValueError("retry_after and latency_seconds must not be negative")
        if self.match is not None:
            try:
                re.compile(self.match)
            except re.error as exc:
                raise ValueError(f"match is not a valid regular expression: {exc}") from exc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON (the /_sim/faults body); unknown keys are an error."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "match":
                if value is not None and not isinstance(value, str):
                    raise ValueError("match must be a string or null")
                values[key] = value
            elif key == "retry_after" and value is None:
                values[key] = None
            elif key == "seed":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("seed must be an integer")
                values[key] = value
            else:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"{key} must be a number")
                values[key] = float(value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def active(self) -> bool:
        return any(getattr(self, name) > 0 for name in RATES)


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    latency: float = 0.0
    error: ApiError | None = None
    drop: bool = False
    truncate: bool = False
    malformed: Fault | None = None


def is_download(path: str) -> bool:
    return path.startswith("/v1/files/") and path.endswith("/content")


class FaultInjector:
    """Draws a Decision for each request and counts the faults it injected."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace the settings and restart the random stream from the config's seed."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._match = re.compile(config.match) if config.match else None

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            config = self.config
            if not config.active:
                return Decision()
            if self._match is not None and not self._match.search(f"{method} {path}"):
                return Decision()
            pick, kind, trunc, slow = (self._rng.random() for _ in range(4))
            latency = config.latency_seconds if slow < config.latency_rate else 0.0
            if latency:
                self.counts[Fault.LATENCY] += 1
            if pick < config.rate_limit_rate:
                self.counts[Fault.RATE_LIMITED] += 1
                return Decision(latency, error=rate_limited(config.retry_after))
            pick -= config.rate_limit_rate
            if pick < config.server_error_rate:
                self.counts[Fault.SERVER_ERROR] += 1
                return Decision(latency, error=server_error(503 if kind < 0.5 else 500))
            pick -= config.server_error_rate
            if pick < config.drop_rate:
                self.counts[Fault.DROPPED] += 1
                return Decision(latency, drop=True)
            download = is_download(path)
            malformed = self._malformed(config, download)
            if malformed is not None:
                self.counts[malformed] += 1
                return Decision(latency, malformed=malformed)
            if download and trunc < config.truncate_rate:
                self.counts[Fault.TRUNCATED] += 1
                return Decision(latency, truncate=True)
            return Decision(latency)

    def _malformed(self, config: FaultConfig, download: bool) -> Fault | None:
        """Which malformed 200, if any (a fifth draw, made only when such rates are set)."""
        if not any(getattr(config, name) > 0 for name in _MALFORMED):
            return None
        draw = self._rng.random()
        kinds = {**ANY_REQUEST_KINDS, **(DOWNLOAD_KINDS if download else {})}
        for name, kind in kinds.items():
            rate: float = getattr(config, name)
            if draw < rate:
                return kind
            draw -= rate
        return None
