"""Pure batch semantics: no Qt, no network, no database.

Everything here works on :class:`openai.types.Batch` snapshots and plain data, so the
desktop, the worker and the CLI share one meaning of "pending", "stuck", "done" and
"what happened", and it is all testable in milliseconds.
"""

from batchmon.core.backoff import Backoff
from batchmon.core.diff import BatchEvent, EventKind, diff
from batchmon.core.pricing import Cost, estimate_cost, price_for
from batchmon.core.requests import (
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    SUPPORTED_ENDPOINTS,
    TAGS_RESPONSE_FORMAT,
    build_tag_request,
    to_jsonl,
)
from batchmon.core.results import LineOutcome, ResultParser, normalise_tags
from batchmon.core.status import (
    APPLICABLE_STATUSES,
    DEFAULT_STUCK_LIMITS,
    PENDING_STATUSES,
    STATE_TIMESTAMPS,
    TERMINAL_STATUSES,
    TIMESTAMP_FIELDS,
    Outcome,
    Progress,
    StuckLimits,
    entered_at_field,
    eta_seconds,
    is_pending,
    is_stuck,
    is_terminal,
    outcome,
    progress,
    state_entered_at,
    time_in_state,
)

__all__ = [
    "APPLICABLE_STATUSES",
    "DEFAULT_MODEL",
    "DEFAULT_PROMPT",
    "DEFAULT_STUCK_LIMITS",
    "PENDING_STATUSES",
    "STATE_TIMESTAMPS",
    "SUPPORTED_ENDPOINTS",
    "TAGS_RESPONSE_FORMAT",
    "TERMINAL_STATUSES",
    "TIMESTAMP_FIELDS",
    "Backoff",
    "BatchEvent",
    "Cost",
    "EventKind",
    "LineOutcome",
    "Outcome",
    "Progress",
    "ResultParser",
    "StuckLimits",
    "build_tag_request",
    "diff",
    "entered_at_field",
    "estimate_cost",
    "eta_seconds",
    "is_pending",
    "is_stuck",
    "is_terminal",
    "normalise_tags",
    "outcome",
    "price_for",
    "progress",
    "state_entered_at",
    "time_in_state",
    "to_jsonl",
]
