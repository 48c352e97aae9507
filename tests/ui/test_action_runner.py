"""The wording of the retry and cancel questions, without a window (pure functions)."""

from __future__ import annotations

import pytest

from batchmon.ui.action_runner import cancel_question, plural, retry_all_question, retry_question


@pytest.mark.parametrize(
    ("n", "noun", "many", "expected"),
    [
        (1, "request", None, "1 request"),
        (0, "request", None, "0 requests"),
        (3, "request", None, "3 requests"),
        (1, "batch", "batches", "1 batch"),
        (2, "batch", "batches", "2 batches"),
    ],
)
def test_plural(n: int, noun: str, many: str | None, expected: str) -> None:
    assert plural(n, noun, many) == expected


def test_retry_question_counts_what_goes_again() -> None:
    one = retry_question("batch_1", 1)
    assert one.startswith("Resubmit 1 request from batch_1 as a new batch?")
    assert "finished assets keep their tags" in one
    assert retry_question("batch_1", 3).startswith("Resubmit 3 requests from batch_1")


def test_retry_all_and_cancel_questions() -> None:
    assert retry_all_question(1, 1) == "Resubmit about 1 request from 1 batch?"
    assert retry_all_question(7, 2) == "Resubmit about 7 requests from 2 batches?"
    text = cancel_question("batch_9")
    assert text.startswith("Cancel batch_9?")
    assert "keep their results" in text
