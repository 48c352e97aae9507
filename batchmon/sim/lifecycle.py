"""The life of one simulated batch, derived from the clock.

Nothing runs in the background: each time a batch is looked at, `advance(now)` walks the
transitions whose time has come (validating -> in_progress -> finalizing -> completed, or
failed / expired / cancelling -> cancelled) and stamps each with the time it happened,
not the time it was noticed. The same clock readings always give the same batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .outputs import Answer, answer, token_counts, unfinished_line
from .rules import processing_order, request_fails
from .script import BatchScript
from .validation import ValidationResult

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
CANCELLABLE = frozenset({"validating", "in_progress", "finalizing"})
WINDOW_SECONDS = {"24h": 24 * 3600}
_TIME_FIELDS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


@dataclass(frozen=True)
class Timing:
    """Seconds spent in the short states around processing."""

    validating: float = 5.0
    finalizing: float = 5.0
    cancelling: float = 5.0


@dataclass(frozen=True)
class Produced:
    """The contents of the output and error files a batch writes when it ends."""

    output: bytes | None
    errors: bytes | None


@dataclass
class SimBatch:
    id: str
    seq: int
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    created: float
    script: BatchScript
    validation: ValidationResult
    timing: Timing
    status: str = "validating"
    times: dict[str, float] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    script_changed_at: float = 0.0
    # processing plan, set on entering in_progress
    order: list[int] = field(default_factory=list)
    fails: list[bool] = field(default_factory=list)
    ok_prefix: list[int] = field(default_factory=lambda: [0])
    in_prefix: list[int] = field(default_factory=lambda: [0])
    out_prefix: list[int] = field(default_factory=lambda: [0])
    anchor_time: float = 0.0
    anchor_done: int = 0
    frozen_done: int | None = None
    late_error: dict[str, Any] | None = None
    """A failure the service decides when validation ends, not from the file's lines:
    the input file gone, or the model's enqueued-token limit reached."""
    enqueued_tokens: int = 0
    """Estimated prompt tokens the batch holds in its model's queue while in progress."""
    output_ttl: int | None = None
    """Seconds the output and error files live (output_expires_after; None: the default)."""

    @property
    def validation_ends(self) -> float:
        return self.created + self.timing.validating

    @property
    def expires(self) -> float:
        return self.created + WINDOW_SECONDS[self.completion_window]

    @property
    def total(self) -> int:
        if self.status == "failed" or (self.status == "validating" and not self.order):
            return 0
        return len(self.order)

    # -- progress ---------------------------------------------------------------------

    def _rate(self) -> float:
        n = len(self.order)
        return math.inf if self.script.duration <= 0 else n / self.script.duration

    def _target(self) -> int:
        n = len(self.order)
        if self.script.expire_fraction is None:
            return n
        return max(self.anchor_done, math.floor(n * self.script.expire_fraction))

    def done(self, now: float) -> int:
        """How many requests have been processed by `now`."""
        if self.frozen_done is not None:
            return self.frozen_done
        if self.status != "in_progress":
            return 0
        rate = self._rate()
        if math.isinf(rate):
            return self._target()
        progressed = math.floor((now - self.anchor_time) * rate + 1e-9)
        return min(self._target(), self.anchor_done + max(0, progressed))

    def _finish_time(self) -> float:
        n = len(self.order)
        if self._target() < n:
            return math.inf
        rate = self._rate()
        if math.isinf(rate):
            return self.anchor_time
        return self.anchor_time + (n - self.anchor_done) / rate

    def _plan(self, start: int) -> None:
        """(Re)decide the outcome of requests from position `start` on, under the script."""
        requests = self.validation.requests
        del self.fails[start:]
        del self.ok_prefix[start + 1 :]
        del self.in_prefix[start + 1 :]
        del self.out_prefix[start + 1 :]
        for pos in range(start, len(self.order)):
            request = requests[self.order[pos]]
            fail = request_fails(request.custom_id, self.script.fail_fraction)
            input_tokens, output_tokens = (0, 0) if fail else token_counts(request)
            self.fails.append(fail)
            self.ok_prefix.append(self.ok_prefix[-1] + (0 if fail else 1))
            self.in_prefix.append(self.in_prefix[-1] + input_tokens)
            self.out_prefix.append(self.out_prefix[-1] + output_tokens)

    def _answer(self, pos: int, fail: bool, created: int) -> Answer:
        request = self.validation.requests[self.order[pos]]
        return answer(self.id, self.endpoint, request, created, fail, self.script.fail_code)

    # -- transitions ------------------------------------------------------------------

    def advance(self, now: float, produce: Callable[[SimBatch, Produced], None]) -> list[str]:
        """Apply every transition due by `now`; return the statuses entered, in order."""
        entered: list[str] = []
        while True:
            step = self._next(now)
            if step is None:
                return entered
            status, at = step
            self._enter(status, at)
            entered.append(status)
            if status in ("completed", "expired", "cancelled"):
                produce(self, self._produce(at))

    def _next(self, now: float) -> tuple[str, float] | None:
        status = self.status
        if status == "validating":
            at = self.validation_ends
            if at > now:
                return None
            bad = self.script.fail_validation or self.late_error or not self.validation.ok
            return ("failed" if bad else "in_progress", at)
        if status == "in_progress":
            finish = self._finish_time()
            if finish < self.expires and finish <= now:
                return ("finalizing", max(finish, self.times["in_progress_at"]))
            if self.expires <= now and finish >= self.expires:
                return ("expired", self.expires)
            return None
        if status == "finalizing":
            if self.script.stall_finalizing:
                at = max(self.expires, self.times["finalizing_at"])
                return ("expired", at) if at <= now else None
            at = max(self.times["finalizing_at"] + self.timing.finalizing, self.script_changed_at)
            return ("completed", at) if at <= now else None
        if status == "cancelling":
            at = self.times["cancelling_at"] + self.timing.cancelling
            return ("cancelled", at) if at <= now else None
        return None

    def _enter(self, status: str, at: float) -> None:
        if status == "in_progress":
            ids = [r.custom_id for r in self.validation.requests]
            self.order = processing_order(self.id, ids)
            self.anchor_time, self.anchor_done = at, 0
            self._plan(0)
        elif status in ("finalizing", "expired"):
            self.frozen_done = self.done(at)
        elif status == "failed":
            self.order = []
        self.status = status
        self.times[f"{status}_at"] = at

    def cancel(self, now: float) -> None:
        """Begin cancelling (the caller has advanced the batch to `now`)."""
        if self.status == "validating" and self.validation.ok:
            ids = [r.custom_id for r in self.validation.requests]
            self.order = processing_order(self.id, ids)
            self._plan(0)
        self.frozen_done = self.done(now) if self.status != "validating" else 0
        self.status = "cancelling"
        self.times["cancelling_at"] = now

    def rescript(self, script: BatchScript, now: float) -> None:
        """Switch to a new script from `now` on (the caller has advanced to `now`)."""
        if self.status == "in_progress":
            done = self.done(now)
            self.anchor_time, self.anchor_done = now, done
            self.script = script
            self._plan(done)
        else:
            self.script = script
        self.script_changed_at = now

    def _produce(self, at: float) -> Produced:
        created = int(at)
        done = self.done(at)
        ok_lines: list[bytes] = []
        error_lines: list[bytes] = []
        for pos in range(done):
            result = self._answer(pos, self.fails[pos], created)
            (ok_lines if result.ok else error_lines).append(_dump(result.line))
        code = "batch_expired" if self.status == "expired" else "batch_cancelled"
        for pos in range(done, len(self.order)):
            custom_id = self.validation.requests[self.order[pos]].custom_id
            error_lines.append(_dump(unfinished_line(self.id, custom_id, code)))
        return Produced(
            output=b"".join(ok_lines) if ok_lines else None,
            errors=b"".join(error_lines) if error_lines else None,
        )

    # -- the API object ---------------------------------------------------------------

    def to_dict(self, now: float) -> dict[str, Any]:
        """The Batch object as OpenAI sends it (null fields left out, see docs)."""
        done = self.done(now)
        ok = self.ok_prefix[done] if self.order else 0
        body = batch_object(
            self.id,
            self.status,
            endpoint=self.endpoint,
            input_file_id=self.input_file_id,
            completion_window=self.completion_window,
            created_at=int(self.created),
            expires_at=int(self.expires),
            request_counts={"total": self.total, "completed": ok, "failed": done - ok},
            usage=_usage(self.in_prefix[done] if self.order else 0, self._out(done)),
            metadata=dict(self.metadata) if self.metadata is not None else None,
        )
        if self.validation.snapshot is not None:
            body["model"] = self.validation.snapshot
        for name in _TIME_FIELDS:
            if name in self.times:
                body[name] = int(self.times[name])
        if self.status == "failed":
            errors = list(self.validation.errors)
            if self.late_error is not None:
                errors = [self.late_error]
            if not errors:
                errors = [
                    {
                        "code": "invalid_request",
                        "line": None,
                        "message": "The batch was scripted to fail validation "
                        "(sim_fail_validation).",
                        "param": None,
                    }
                ]
            body["errors"] = {"object": "list", "data": errors}
        if self.output_file_id is not None:
            body["output_file_id"] = self.output_file_id
        if self.error_file_id is not None:
            body["error_file_id"] = self.error_file_id
        elif self.status in TERMINAL and self.script.empty_error_file_id:
            body["error_file_id"] = ""
        return body

    def _out(self, done: int) -> int:
        return self.out_prefix[done] if self.order else 0


def batch_object(
    batch_id: str,
    status: str,
    *,
    endpoint: str = "/v1/chat/completions",
    input_file_id: str = "file-in",
    completion_window: str = "24h",
    created_at: int,
    **fields: Any,
) -> dict[str, Any]:
    """A Batch object as OpenAI's JSON: the fields every batch has, in OpenAI's order,
    then ``fields``. Tests and benchmarks build the batches they hand the store with it."""
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": endpoint,
        "input_file_id": input_file_id,
        "completion_window": completion_window,
        "status": status,
        "created_at": created_at,
        **fields,
    }


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _dump(line: dict[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":")).encode("utf-8") + b"\n"
