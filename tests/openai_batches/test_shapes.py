"""Answers that parsed but are not the API's objects become one MalformedResponse each."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from openai.types import Batch, FileObject

from batchmon.openai_batches import MalformedResponse
from batchmon.openai_batches.shapes import checked_batch, checked_file, checked_page


def batch(**fields: Any) -> Batch:
    values = {"id": "batch_1", "status": "completed", "created_at": 1, **fields}
    return Batch.model_construct(**values)


def test_usable_answers_come_back_as_they_are() -> None:
    good = batch()
    page = SimpleNamespace(data=[good])
    file = FileObject.model_construct(id="file_1", created_at=1)
    assert checked_batch(good, "retrieve batch batch_1") is good
    assert checked_page(page, "list batches") is page
    assert checked_file(file, "upload file") is file


@pytest.mark.parametrize(
    ("check", "answer", "message"),
    [
        (checked_batch, None, "the answer was not a batch (expected a batch object, got NoneType)"),
        (checked_batch, batch(id=""), "the answer was not a batch (a batch without an id)"),
        (checked_page, SimpleNamespace(data=None), "the answer was not a list of batches"),
        (checked_page, SimpleNamespace(data=[batch(status="odd")]), "the answer held batch"),
        (checked_file, {"id": "file_1"}, "the answer was not a file object"),
        (
            checked_file,
            FileObject.model_construct(id="file_1", created_at=None),
            "file file_1 has no created_at time",
        ),
    ],
)
def test_each_refusal_names_the_request_and_the_problem(
    check: Any, answer: Any, message: str
) -> None:
    with pytest.raises(MalformedResponse) as caught:
        check(answer, "the call")
    assert caught.value.message.startswith(f"the call: {message}")
