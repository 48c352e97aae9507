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
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from batchmon.ui import dialogs
from batchmon.ui.banner import Banner
from batchmon.ui.batch_list import BatchItem
from batchmon.ui.detail_pane import BatchDetail
from batchmon.ui.tasks import TaskSet

log = logging.getLogger(__name__)


class BatchOperations(Protocol):
    """What the window asks of the rest of the app (the composition root supplies it)."""

    async def load_detail(self, batch_id: str) -> BatchDetail: ...

    async def retry_preview(self, batch_id: str) -> RetryPreview:
        """What a Retry would resubmit and leave out; raises with a reason if it cannot."""
        ...

    async def retry(self, batch_id: str, *, include_permanent: bool = False) -> str:
        """Resubmit what can succeed (permanent failures too, when asked); the new id."""
        ...

    async def cancel(self, batch_id: str) -> str:
        """Ask OpenAI to cancel; returns the status it reported."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPreview:
    """What a Retry of one batch would do, for its confirmation."""

    count: int
    """Requests that go again by default (those a retry can fix)."""
    left_out: tuple[tuple[str, str], ...] = ()
    """``(asset id, reason)`` of permanent failures, sent only when included."""


LEFT_OUT_SHOWN = 5
"""Permanent failures named in a question; the rest are counted."""


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 request``, ``3 requests``; ``many`` for irregular plurals (batch -> batches)."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def retry_question(batch_id: str, count: int, left_out: Sequence[tuple[str, str]] = ()) -> str:
    text = (
        f"Resubmit {plural(count, 'request')} from {batch_id} as a new batch?\n\n"
        "Only what did not succeed goes again; finished assets keep their tags."
    )
    return text + left_out_text(left_out)


def left_out_text(left_out: Sequence[tuple[str, str]]) -> str:
    """The permanent failures a retry leaves out, named (the first few) with reasons."""
    if not left_out:
        return ""
    lines = [f"\n\n{plural(len(left_out), 'permanent failure')} would fail the same way again:"]
    lines += [f"  {asset_id}: {reason}" for asset_id, reason in left_out[:LEFT_OUT_SHOWN]]
    if len(left_out) > LEFT_OUT_SHOWN:
        lines.append(f"  and {len(left_out) - LEFT_OUT_SHOWN} more")
    return "\n".join(lines)


def include_option(left_out: int) -> str:
    return f"Include {plural(left_out, 'permanent failure')}"


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
        preview = await self.operations.retry_preview(batch_id)
        count, left_out = preview.count, preview.left_out
        include = False
        if left_out:
            yes, include = await dialogs.ask_with_option(
                self._dialog_parent,
                "Retry batch",
                lambda on: retry_question(batch_id, count + len(left_out) * on, left_out),
                include_option(len(left_out)),
                needed=count == 0,
            )
        else:
            yes = await dialogs.ask(
                self._dialog_parent, "Retry batch", retry_question(batch_id, count)
            )
        if not yes:
            return None
        new_id = await self.operations.retry(batch_id, include_permanent=include)
        if include:
            count += len(left_out)
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
        previews: dict[str, RetryPreview] = {}
        problems: list[str] = []
        for item in items:
            try:
                previews[item.id] = await self.operations.retry_preview(item.id)
            except Exception as exc:
                log.warning("retry of %s is not possible: %s", item.id, exc)
                problems.append(f"{item.id}: {exc}")
        if not previews:
            self.banner.show_message("Nothing to retry: " + "; ".join(problems[:3]), "warning")
            return []
        total = sum(p.count for p in previews.values())
        left_out = [pair for p in previews.values() for pair in p.left_out]
        include = False
        if left_out:
            yes, include = await dialogs.ask_with_option(
                self._dialog_parent,
                "Retry all failed",
                lambda on: (
                    retry_all_question(total + len(left_out) * on, len(previews))
                    + left_out_text(left_out)
                ),
                include_option(len(left_out)),
                needed=total == 0,
            )
        else:
            yes = await dialogs.ask(
                self._dialog_parent, "Retry all failed", retry_all_question(total, len(previews))
            )
        if not yes:
            return None
        created: list[str] = []
        for item in items:
            if item.id not in previews:
                continue
            if not include and previews[item.id].count == 0:
                continue  # only permanent failures, which the person left out
            try:
                created.append(await self.operations.retry(item.id, include_permanent=include))
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
            self.banner.show_message(
                f"Retried {plural(len(created), 'batch', 'batches')}.", "success"
            )
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
