"""What the states of a batch's results (``batch_results_state``) mean to every front end."""

from __future__ import annotations

GONE_STATES = frozenset({"batch_not_found", "results_expired"})
"""Results states of a batch whose results can never arrive: only a retry helps."""
