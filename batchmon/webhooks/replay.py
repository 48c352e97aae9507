"""Remember recent webhook ids so a redelivered event is acknowledged but not acted on twice.

Bounded: the set forgets the oldest ids first. A replay older than the memory (or one
arriving after a restart) is still harmless, because applying a batch is idempotent in
the store: an applied batch is recognised and skipped before any API call.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 10_000


class SeenIds:
    """An LRU set of `webhook-id`s."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, webhook_id: str) -> bool:
        """True (and remember it) if `webhook_id` is new; False for a replay."""
        if webhook_id in self._ids:
            self._ids.move_to_end(webhook_id)
            return False
        self._ids[webhook_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, webhook_id: str) -> None:
        """Let a redelivery of `webhook_id` act again (its handling failed)."""
        self._ids.pop(webhook_id, None)

    def __contains__(self, webhook_id: object) -> bool:
        return webhook_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
