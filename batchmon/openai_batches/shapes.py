"""Refuse answers that parsed but are not shaped like the API's objects.

The SDK builds its models without validating them, so ``{"data": null}`` or a batch with
no id becomes an object that fails far away (a ``TypeError`` in a loop, a ``None`` id in
the database). Checking the few fields batchmon relies on, right where the answer
arrives, turns that into one :class:`MalformedResponse` naming the request.
"""

from __future__ import annotations

from typing import Any, TypeVar

from openai.types import Batch, FileObject

from .errors import MalformedResponse

__all__ = ["checked_batch", "checked_file", "checked_page"]

_Page = TypeVar("_Page")

_STATUSES = frozenset(
    {
        "validating",
        "failed",
        "in_progress",
        "finalizing",
        "completed",
        "expired",
        "cancelling",
        "cancelled",
    }
)


def _problem(batch: Any) -> str | None:
    """What is wrong with a supposed batch object, or None if batchmon can use it."""
    if not isinstance(batch, Batch):
        return f"expected a batch object, got {type(batch).__name__}"
    batch_id = getattr(batch, "id", None)
    if not isinstance(batch_id, str) or not batch_id:
        return "a batch without an id"
    if getattr(batch, "status", None) not in _STATUSES:
        return f"batch {batch_id} has no known status"
    if not isinstance(getattr(batch, "created_at", None), int):
        return f"batch {batch_id} has no created_at time"
    counts = getattr(batch, "request_counts", None)
    if counts is not None and not all(
        isinstance(getattr(counts, name, None), int) for name in ("total", "completed", "failed")
    ):
        return f"batch {batch_id} has malformed request_counts"
    return None


def _page_problem(page: Any) -> str | None:
    data = getattr(page, "data", None)
    if not isinstance(data, list):
        return "the answer was not a list of batches (no data list)"
    for item in data:
        problem = _problem(item)
        if problem is not None:
            return f"the answer held {problem}"
    return None


def _file_problem(file: Any) -> str | None:
    file_id = getattr(file, "id", None)
    if not isinstance(file, FileObject) or not isinstance(file_id, str) or not file_id:
        return "the answer was not a file object"
    if not isinstance(getattr(file, "created_at", None), int):
        return f"file {file_id} has no created_at time"
    return None


def _refuse(problem: str | None, what: str) -> None:
    """Raise the :class:`MalformedResponse` naming the request, if the answer has a problem."""
    if problem is not None:
        raise MalformedResponse(f"{what}: {problem}")


def checked_batch(batch: Any, what: str) -> Batch:
    """``batch`` if it is a usable batch object; otherwise :class:`MalformedResponse`."""
    problem = _problem(batch)
    _refuse(None if problem is None else f"the answer was not a batch ({problem})", what)
    return batch


def checked_page(page: _Page, what: str) -> _Page:
    """A list page whose ``data`` is a list of usable batches."""
    _refuse(_page_problem(page), what)
    return page


def checked_file(file: Any, what: str) -> FileObject:
    """An uploaded file's object, with the id the batch create needs."""
    _refuse(_file_problem(file), what)
    return file
