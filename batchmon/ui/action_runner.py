"""The retry and cancel flows: ask the person, call the engine, say what happened.

Kept apart from the window so the flows and their wording can be exercised with only a
banner: every question goes through :mod:`batchmon.ui.dialogs` (a real dialog, awaited,
never a nested event loop), every outcome lands in the banner and in
``action_finished``, and a batch with an action under way is ``busy`` so a second click
does not start a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from batchmon.ui import dialogs
from batchmon.ui.actions import resubmit_count
from batchmon.ui.banner import Banner
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.detail_pane import BatchDetail
from batchmon.ui.results_view import allows_retry
from batchmon.ui.tasks import TaskSet

log = logging.getLogger(__name__)


class BatchOperations(Protocol):
    """What the window asks of the rest of the app (the composition root supplies it)."""

    async def load_detail(self, batch_id: str) -> BatchDetail: ...

    async def retry_count(self, batch_id: str) -> int:
        """How many requests a Retry would resubmit; raises with a reason if it cannot."""
        ...

    async def retry(self, batch_id: str) -> str:
        """Resubmit what failed; returns the new batch's id."""
        ...

    async def cancel(self, batch_id: str) -> str:
        """Ask OpenAI to cancel; returns the status it reported."""
        ...


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 request``, ``3 requests``; ``many`` for irregular plurals (batch -> batches)."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def retry_question(batch_id: str, count: int) -> str:
    return (
        f"Resubmit {plural(count, 'request')} from {batch_id} as a new batch?\n\n"
        "Only what did not succeed goes again; finished assets keep their tags."
    )


def cancel_question(batch_id: str) -> str:
    return (
        f"Cancel {batch_id}?\n\nRequests that already finished keep their results; "
        "the rest can be retried afterwards."
    )


def retry_all_question(total: int, batches: int) -> str:
    return f"Resubmit about {plural(total, 'request')} from {plural(batches, 'batch', 'batches')}?"


class ActionRunner(QObject):
    """Runs each person-started action as a task; one at a time per batch."""

    #: ``(action, batch_id, outcome)``: the result, None when the person said No, or
    #: the exception raised.
    action_finished = Signal(str, str, object)
    #: ``(batch_id, busy)``: an action on the batch started or ended.
    busy_changed = Signal(str, bool)
    #: The banner's "Show" was clicked on the batch a retry made.
    show_requested = Signal(str)

    def __init__(
        self, operations: BatchOperations, banner: Banner, dialog_parent: QWidget | None = None
    ) -> None:
        super().__init__(dialog_parent)
        self.operations = operations
        self.banner = banner
        self._dialog_parent = dialog_parent
        self._busy: set[str] = set()
        self.tasks = TaskSet()

    def is_busy(self, batch_id: str) -> bool:
        return batch_id in self._busy

    # -- the flows ----------------------------------------------------------------------

    def retry(self, batch_id: str) -> asyncio.Future[Any] | None:
        """Confirm how many requests go again, then resubmit them as one new batch."""
        return self._start("retry", batch_id, self._retry(batch_id), [batch_id])

    async def _retry(self, batch_id: str) -> str | None:
        count = await self.operations.retry_count(batch_id)
        if not await dialogs.ask(
            self._dialog_parent, "Retry batch", retry_question(batch_id, count)
        ):
            return None
        new_id = await self.operations.retry(batch_id)
        self.banner.show_message(
            f"Resubmitted {plural(count, 'request')} from {batch_id} as {new_id}.",
            "success",
            action_text="Show",
            action=lambda: self.show_requested.emit(new_id),
        )
        return new_id

    def cancel(self, batch_id: str) -> asyncio.Future[Any] | None:
        """Confirm, then ask OpenAI to cancel the batch (finished requests keep results)."""
        return self._start("cancel", batch_id, self._cancel(batch_id), [batch_id])

    async def _cancel(self, batch_id: str) -> str | None:
        if not await dialogs.ask(self._dialog_parent, "Cancel batch", cancel_question(batch_id)):
            return None
        status = await self.operations.cancel(batch_id)
        self.banner.show_message(f"Cancelling {batch_id} (now {status}).", "info")
        return status

    def retry_all(self, items: Sequence[BatchItem]) -> asyncio.Future[Any] | None:
        """Retry every batch in ``items`` (those whose state allows it), after one question."""
        items = [item for item in items if not self.is_busy(item.id)]
        if not items:
            self.banner.show_message("No failed batches to retry.", "info")
            return None
        return self._start("retry_all", "", self._retry_all(items), [i.id for i in items])

    async def _retry_all(self, items: list[BatchItem]) -> list[str] | None:
        total = sum(
            (item.pending_assets or 0)
            if allows_retry(item.results_state)
            else resubmit_count(item.status, item.batch.request_counts, item.asset_count)
            for item in items
        )
        if not await dialogs.ask(
            self._dialog_parent, "Retry all failed", retry_all_question(total, len(items))
        ):
            return None
        created: list[str] = []
        problems: list[str] = []
        for item in items:
            try:
                created.append(await self.operations.retry(item.id))
            except Exception as exc:
                log.warning("retry of %s failed: %s", item.id, exc)
                problems.append(f"{item.id}: {exc}")
        batches = plural(len(items), "batch", "batches")
        if problems:
            self.banner.show_message(
                f"Retried {len(created)} of {batches}. Failed: " + "; ".join(problems[:3]),
                "warning",
            )
        else:
            self.banner.show_message(f"Retried {batches}.", "success")
        return created

    # -- task plumbing ------------------------------------------------------------------

    def _start(
        self,
        action: str,
        batch_id: str,
        work: Coroutine[Any, Any, Any],
        batch_ids: list[str],
    ) -> asyncio.Future[Any] | None:
        if batch_id and self.is_busy(batch_id):
            work.close()
            return None
        for busy_id in batch_ids:
            self._busy.add(busy_id)
            self.busy_changed.emit(busy_id, True)

        def done(task: asyncio.Future[Any]) -> None:
            for busy_id in batch_ids:
                self._busy.discard(busy_id)
                self.busy_changed.emit(busy_id, False)
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                self.banner.show_error(f"{action.replace('_', ' ').capitalize()} failed", exc)
                self.action_finished.emit(action, batch_id, exc)
            else:
                self.action_finished.emit(action, batch_id, task.result())

        return self.tasks.spawn(work, done)

    async def aclose(self) -> None:
        """Cancel running actions (and close their open questions); wait until they end."""
        await self.tasks.aclose()
