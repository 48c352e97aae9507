"""Properties of the two pure pieces every channel trusts: result parsing and the diff."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import Batch

from batchmon.core.diff import EventKind, diff
from batchmon.core.results import ResultParser
from batchmon.core.status import TERMINAL_STATUSES
from tests.helpers.batches import bare_batch
from tests.reliability.strategies import raw_lines

KNOWN = ["a1", "a2", "a3"]
STATUSES = [
    "validating", "in_progress", "finalizing", "completed", "failed", "expired",
    "cancelling", "cancelled",
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(raw_lines(), max_size=12), st.booleans())
def test_the_parser_gives_exactly_one_sound_outcome_per_line_and_never_raises(
    lines: list[bytes], known: bool
) -> None:
    parser = ResultParser(KNOWN if known else None)
    ok_ids: list[str] = []
    for n, raw in enumerate(lines, start=1):
        outcome = parser.feed(raw, n)
        assert outcome.line_no == n
        if outcome.ok:
            assert isinstance(outcome.custom_id, str) and outcome.custom_id
            assert isinstance(outcome.tags, list)
            assert all(isinstance(t, str) and t == t.strip().lower() and t for t in outcome.tags)
            assert len(set(outcome.tags)) == len(outcome.tags)
            assert outcome.error_code is None
            ok_ids.append(outcome.custom_id)
        else:
            assert outcome.tags is None
            assert isinstance(outcome.reason, str) and outcome.reason.strip()
            assert isinstance(outcome.error_code, str) and outcome.error_code
        if known and outcome.ok:
            assert outcome.custom_id in KNOWN
    # An id is never answered twice, and text input behaves like its bytes.
    assert len(ok_ids) == len(set(ok_ids))


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_lines(), max_size=8))
def test_str_and_bytes_lines_agree(lines: list[bytes]) -> None:
    by_bytes, by_text = ResultParser(KNOWN), ResultParser(KNOWN)
    for n, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert by_bytes.feed(raw, n) == by_text.feed(text, n)


def _batch(status: str, completed: int, failed: int) -> Batch:
    return bare_batch(
        status,
        batch_id="batch_p",
        total=100,
        completed=completed,
        failed=failed,
        created_at=1_767_225_600,
    )


batches = st.builds(_batch, st.sampled_from(STATUSES), st.integers(0, 100), st.integers(0, 100))


@settings(max_examples=200, deadline=None)
@given(batches, batches)
def test_the_diff_reports_each_transition_once_and_never_leaves_a_terminal_state(
    old: Batch, new: Batch
) -> None:
    assert diff(None, new) == []
    assert diff(new, new) == []
    events = diff(old, new)
    assert all(e.key == (new.id, new.status) for e in events)
    if old.status in TERMINAL_STATUSES and new.status != old.status:
        assert events == []
    kinds = [e.kind for e in events]
    if old.status != new.status and old.status not in TERMINAL_STATUSES:
        assert kinds[0] == EventKind.STATUS_CHANGED
        assert (len(kinds) == 2) == (new.status in TERMINAL_STATUSES)
    else:
        assert set(kinds) <= {EventKind.PROGRESS}
    # Seeing the same new snapshot again is never news.
    assert diff(new, new) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=10))
def test_a_sequence_of_observations_announces_each_terminal_status_at_most_once(
    statuses: list[str],
) -> None:
    seen: list[tuple[str, str]] = []
    previous: Batch | None = None
    for status in statuses:
        current = _batch(status, 0, 0)
        seen += [e.key for e in diff(previous, current) if e.kind != EventKind.STATUS_CHANGED]
        # A caller keeps its terminal snapshot when a stale read seems to leave it.
        if previous is None or previous.status not in TERMINAL_STATUSES:
            previous = current
    assert len(seen) == len(set(seen))
    assert len(seen) <= 1
