"""Turn two observations of one batch into the events a person should hear about.

Poll, push and webhooks can all observe the same transition. Each observation goes
through :func:`diff`, and every event carries a :attr:`BatchEvent.key` of
``(batch_id, new_status)``, so whoever shows or notifies can do it once per key no matter
which channel saw it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from batchmon.core.status import is_terminal

if TYPE_CHECKING:  # annotations only: importing openai costs a second at start-up
    from openai.types import Batch


class EventKind(StrEnum):
    """What happened. Terminal kinds come on top of ``status_changed``, never instead."""

    STATUS_CHANGED = "status_changed"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


_TERMINAL_EVENT: dict[str, EventKind] = {
    "completed": EventKind.COMPLETED,
    "failed": EventKind.FAILED,
    "expired": EventKind.EXPIRED,
    "cancelled": EventKind.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """One thing that happened to a batch, with the snapshot that showed it.

    ``batch`` is left out of equality and hashing: the SDK model is not hashable, and two
    observations of the same transition should compare equal.
    """

    kind: EventKind
    batch_id: str
    old_status: str | None
    new_status: str
    batch: Batch = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the transition, shared by every channel that observes it."""
        return (self.batch_id, self.new_status)


def _counts(batch: Batch) -> tuple[int, int]:
    counts = batch.request_counts
    return (counts.completed, counts.failed) if counts else (0, 0)


def diff(old: Batch | None, new: Batch) -> list[BatchEvent]:
    """Events between two snapshots of the same batch, oldest first.

    ``old=None`` is the first sight of a batch: a baseline, not news, so it yields
    nothing (otherwise every start would notify about every finished batch).
    A terminal status is final, so a snapshot that seems to leave one is a stale read and
    also yields nothing.
    """
    if old is None:
        return []
    if old.id != new.id:
        raise ValueError(f"cannot diff two different batches: {old.id!r} and {new.id!r}")
    if old.status != new.status:
        if is_terminal(old.status):
            return []
        events = [BatchEvent(EventKind.STATUS_CHANGED, new.id, old.status, new.status, new)]
        terminal = _TERMINAL_EVENT.get(new.status)
        if terminal is not None:
            events.append(BatchEvent(terminal, new.id, old.status, new.status, new))
        return events
    old_completed, old_failed = _counts(old)
    new_completed, new_failed = _counts(new)
    if new_completed > old_completed or new_failed > old_failed:
        return [BatchEvent(EventKind.PROGRESS, new.id, old.status, new.status, new)]
    return []
