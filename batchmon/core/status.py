"""What a batch's status means to a person waiting on it.

OpenAI reports only a status, a handful of ``*_at`` timestamps and ``request_counts``.
Everything a monitor shows (is it still running, how far along, how long in this state,
when will it finish, is it stuck, how did it end) is derived here from
:class:`openai.types.Batch` itself, so the desktop, the worker and the CLI agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: importing openai costs a second at start-up
    from openai.types import Batch

PENDING_STATUSES: frozenset[str] = frozenset(
    {"validating", "in_progress", "finalizing", "cancelling"}
)
"""OpenAI may still change these batches: keep polling them."""

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})
"""A batch never leaves these: polling can stop and results can be applied."""

APPLICABLE_STATUSES: frozenset[str] = frozenset({"completed", "expired", "cancelled"})
"""Terminal states that may carry output or error files worth applying (``failed`` means
the input was rejected, so no request ran)."""

STATE_TIMESTAMPS: tuple[tuple[str, str], ...] = (
    ("validating", "created_at"),
    ("in_progress", "in_progress_at"),
    ("finalizing", "finalizing_at"),
    ("completed", "completed_at"),
    ("failed", "failed_at"),
    ("expired", "expired_at"),
    ("cancelling", "cancelling_at"),
    ("cancelled", "cancelled_at"),
)
"""Each status and the ``Batch`` timestamp that marks entering it, in lifecycle order.

The one list of ``*_at`` fields: the table, the detail pane, the CLI and the SQL that
records statuses all derive theirs from it (the simulator keeps its own on purpose)."""

TIMESTAMP_FIELDS: tuple[str, ...] = tuple(field for _, field in STATE_TIMESTAMPS)
"""The ``*_at`` fields of :data:`STATE_TIMESTAMPS`, ``created_at`` first."""

_ENTERED_AT_FIELD: dict[str, str] = dict(STATE_TIMESTAMPS)


def entered_at_field(status: str) -> str | None:
    """The ``*_at`` field that marks entering ``status`` (None for an unknown status)."""
    return _ENTERED_AT_FIELD.get(status)


Now = float | int | datetime
"""Unix seconds, or an aware datetime: callers hold either, and a clock is injected."""


def is_pending(status: str) -> bool:
    """True while OpenAI may still move the batch on (so it is worth polling)."""
    return status in PENDING_STATUSES


def is_terminal(status: str) -> bool:
    """True once the batch has reached a state it can never leave."""
    return status in TERMINAL_STATUSES


def _seconds(now: Now) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


@dataclass(frozen=True, slots=True)
class Progress:
    """Request counts plus the derived figures a progress bar needs.

    ``done`` counts failed requests too: a failed request is finished work, and counting
    only successes would make a batch with failures look stalled.
    """

    completed: int
    failed: int
    total: int
    done: int
    fraction: float


def progress(batch: Batch) -> Progress:
    """``(completed + failed) / total`` in [0, 1]; 0.0 while OpenAI has not counted yet."""
    counts = batch.request_counts
    completed = counts.completed if counts else 0
    failed = counts.failed if counts else 0
    total = counts.total if counts else 0
    done = completed + failed
    fraction = min(1.0, done / total) if total > 0 else 0.0
    return Progress(completed=completed, failed=failed, total=total, done=done, fraction=fraction)


def state_entered_at(batch: Batch) -> int | None:
    """Unix time the batch entered its current status, or None if OpenAI did not say."""
    field_name = entered_at_field(batch.status)
    if field_name is None:
        return None
    value = getattr(batch, field_name, None)
    return value if isinstance(value, int) else None


def time_in_state(batch: Batch, now: Now) -> float | None:
    """Seconds spent in the current status (never negative, clocks may disagree)."""
    entered = state_entered_at(batch)
    if entered is None:
        return None
    return max(0.0, _seconds(now) - entered)


def eta_seconds(batch: Batch, now: Now) -> float | None:
    """Seconds until every request is done, extrapolating the rate since ``in_progress_at``.

    Only an ``in_progress`` batch with some finished requests has a rate to extrapolate;
    anything else returns None rather than a made-up number.
    """
    if batch.status != "in_progress" or batch.in_progress_at is None:
        return None
    p = progress(batch)
    return paced_eta(p.done, p.total, _seconds(now) - batch.in_progress_at)


def paced_eta(done: int, total: int, elapsed: float) -> float | None:
    """Seconds until ``total`` is done, if it goes on at the pace of ``done`` in ``elapsed``.

    None without a pace (nothing done yet, or no time passed); a batch and a job both
    extrapolate this way.
    """
    if total <= 0 or done <= 0:
        return None
    if done >= total:
        return 0.0
    if elapsed <= 0:
        return None
    return (total - done) * elapsed / done


@dataclass(frozen=True, slots=True)
class StuckLimits:
    """How long (seconds) a batch may sit in a state before a person should look at it.

    OpenAI batches are known to hang in ``finalizing``; validation and cancellation
    normally take minutes. ``None`` means no limit for that state.
    """

    validating: float | None = 3600.0
    in_progress: float | None = None
    finalizing: float | None = 1800.0
    cancelling: float | None = 3600.0

    def for_status(self, status: str) -> float | None:
        """The limit for ``status``; terminal states are never stuck."""
        if status not in PENDING_STATUSES:
            return None
        limit: float | None = getattr(self, status)
        return limit


DEFAULT_STUCK_LIMITS = StuckLimits()


def is_stuck(batch: Batch, now: Now, limits: StuckLimits = DEFAULT_STUCK_LIMITS) -> bool:
    """True when a pending batch has been in its state longer than its limit allows."""
    limit = limits.for_status(batch.status)
    if limit is None:
        return False
    spent = time_in_state(batch, now)
    return spent is not None and spent > limit


OutcomeKind = Literal["succeeded", "partial", "failed", "expired", "cancelled", "running"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a batch ended (or that it has not yet), as a kind for icons and a sentence."""

    kind: OutcomeKind
    text: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _validation_errors(batch: Batch) -> str:
    data = batch.errors.data if batch.errors and batch.errors.data else []
    if not data:
        return "the input file was rejected"
    first = data[0]
    where = f"line {first.line}: " if first.line is not None else ""
    text = f"{where}{first.message or first.code or 'invalid input'}"
    if len(data) > 1:
        text += f" (and {_plural(len(data) - 1, 'more error')})"
    return text


def _partial_counts(p: Progress) -> str:
    not_run = max(0, p.total - p.done)
    parts = [f"{p.completed} of {p.total} succeeded"]
    if p.failed:
        parts.append(f"{p.failed} failed")
    if not_run:
        parts.append(f"{not_run} not run")
    return ", ".join(parts)


_RUNNING_LABEL = {
    "validating": "Validating input",
    "in_progress": "In progress",
    "finalizing": "Finalizing results",
    "cancelling": "Cancelling",
}


def outcome(batch: Batch) -> Outcome:
    """Summarise the batch for a person: e.g. ``partial`` / "97 of 100 succeeded, 3 failed".

    A ``completed`` batch where every request failed is reported as ``failed``: to the
    person waiting on tags, nothing worked, whatever OpenAI calls the batch.
    """
    p = progress(batch)
    status = batch.status
    if status == "completed":
        if p.total == 0:
            return Outcome("succeeded", "Completed with no requests")
        if p.failed == 0 and p.completed >= p.total:
            return Outcome("succeeded", f"All {_plural(p.total, 'request')} succeeded")
        if p.completed == 0:
            return Outcome("failed", f"All {_plural(p.total, 'request')} failed")
        return Outcome("partial", _partial_counts(p))
    if status == "failed":
        return Outcome("failed", f"Batch failed: {_validation_errors(batch)}")
    if status == "expired":
        return Outcome("expired", f"Expired before finishing: {_partial_counts(p)}")
    if status == "cancelled":
        return Outcome("cancelled", f"Cancelled: {_partial_counts(p)}")
    label = _RUNNING_LABEL.get(status, status)
    if p.total > 0 and status in ("in_progress", "finalizing", "cancelling"):
        return Outcome("running", f"{label}: {p.done} of {p.total} done ({p.fraction:.0%})")
    return Outcome("running", label)
