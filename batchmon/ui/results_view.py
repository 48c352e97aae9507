"""How the engine's results states read on the desktop, without Qt.

A batch's OpenAI status does not tell the whole story once the worker has looked at its
results (``Store.results_states``): a ``failed`` batch may only be waiting for queue
room, a ``completed`` one may have delivered part of its output, and a batch the API no
longer knows can never deliver any. The table, the detail pane, the tray and the
notifications all read those states through this module, so they agree.
"""

from __future__ import annotations

from batchmon.core.results_states import GONE_STATES

ATTENTION_STATES = GONE_STATES | {"results_incomplete"}
"""States a person has to act on: counted by the tray badge."""

NOTIFY_STATES = frozenset({"results_incomplete", "batch_not_found"})
"""States whose arrival is a notification of its own."""


LABELS: dict[str, str] = {
    "waiting_for_queue": "Waiting for queue room",
    "refetching": "Fetching results again",
    "results_incomplete": "Results incomplete",
    "batch_not_found": "Batch not found",
    "results_expired": "Results expired",
    "resubmitted": "Resubmitted",
}

SHOWN_AS: dict[str, str] = {
    "waiting_for_queue": "validating",
    "results_incomplete": "expired",
    "batch_not_found": "failed",
    "results_expired": "expired",
}
"""The status whose icon and colour a results state borrows (others keep their own)."""


def short_note(state: str, note: str | None) -> str:
    """The note's first clause ("results incomplete: 150 of 200 received"), capitalised.

    Notes carry what happens next after a semicolon; the status cell has room only for
    what is the case now. Without a note the state's label is used.
    """
    head = (note or "").split(";", 1)[0].strip() or LABELS.get(state, state.replace("_", " "))
    return sentence(head)


def sentence(text: str) -> str:
    """``text`` with its first letter capitalised (notes start lower-case, for logs)."""
    return text[:1].upper() + text[1:]


def shown_status(status: str, state: str | None) -> str:
    """The status whose icon and colour stand for a batch in ``state``."""
    return SHOWN_AS.get(state, status) if state else status


def needs_attention(state: str | None) -> bool:
    return state in ATTENTION_STATES


def allows_retry(state: str | None) -> bool:
    return state in GONE_STATES
