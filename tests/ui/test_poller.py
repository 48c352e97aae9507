"""The poll clock: cadence, no overlap, backoff, the one-hour limit, and waking up again.

Runs on the qasync loop; signals are awaited through futures, and the hour is crossed
with a controllable clock instead of waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from batchmon.core.backoff import Backoff
from batchmon.engine.sync import SyncResult
from batchmon.ui.poller import Poller, PollState, has_unfinished_batches
from tests.helpers.batches import make_batch
from tests.helpers.clock import Clock
from tests.helpers.qt import next_emit


class FakeApiError(Exception):
    hint = "check the network"


class Sync:
    """A sync pass whose outcome each test scripts: results, errors, or a held gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.fail = False
        self.pending = True
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> SyncResult:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail:
                raise FakeApiError("API unreachable")
            status = "in_progress" if self.pending else "completed"
            return SyncResult(events=[], batches={"b": make_batch("b", status)}, requests=1)
        finally:
            self.running -= 1


async def until_state(poller: Poller, state: PollState) -> None:
    while poller.state != state:
        await next_emit(poller.state_changed)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sync() -> Sync:
    return Sync()


@pytest.fixture
def make_poller(qapp: Any, clock: Clock, sync: Sync) -> Iterator[Any]:
    made: list[Poller] = []

    def factory(**kw: Any) -> Poller:
        kw.setdefault("interval", 0.02)
        poller = Poller(sync, now=clock, **kw)
        made.append(poller)
        return poller

    yield factory
    for poller in made:
        poller.stop()


def test_defaults_are_two_seconds_and_one_hour(qapp: Any, sync: Sync) -> None:
    poller = Poller(sync)
    assert poller.interval == 2.0 and poller.limit == 3600.0
    assert poller.state == PollState.STOPPED
    with pytest.raises(ValueError, match="interval"):
        Poller(sync, interval=0)


async def test_start_runs_a_pass_at_once_then_keeps_the_cadence(
    make_poller: Any, sync: Sync
) -> None:
    poller = make_poller()
    finished: list[Any] = []
    poller.tick_finished.connect(finished.append)
    poller.start()
    assert poller.state == PollState.POLLING and poller.timer_active
    for _ in range(3):
        await next_emit(poller.tick_finished)
    assert sync.calls >= 3
    assert all(isinstance(r, SyncResult) for r in finished)
    assert poller.state_text == "polling every 0.02 s"


async def test_a_tick_never_overlaps_a_running_pass(make_poller: Any, sync: Sync) -> None:
    sync.gate = asyncio.Event()
    poller = make_poller()
    poller.start()
    await next_emit(poller.tick_skipped)
    await next_emit(poller.tick_skipped)
    assert sync.calls == 1 and poller.busy
    assert poller.skipped_ticks >= 2
    sync.gate.set()
    await next_emit(poller.tick_started)
    assert sync.max_running == 1


async def test_refresh_during_a_pass_queues_exactly_one_more(make_poller: Any, sync: Sync) -> None:
    sync.gate = asyncio.Event()
    poller = make_poller(interval=60.0)
    poller.start()
    poller.refresh()
    poller.refresh()
    assert poller.passes == 1 and poller.busy
    sync.gate.set()
    await next_emit(poller.tick_finished)
    await next_emit(poller.tick_finished)
    assert sync.calls == 2 and sync.max_running == 1
    assert not poller.busy


async def test_errors_back_off_from_2_to_60_seconds_then_recover(
    make_poller: Any, sync: Sync, clock: Clock
) -> None:
    sync.fail = True
    poller = make_poller()
    errors: list[str] = []
    poller.error.connect(lambda text: errors.append(text))
    poller.start()
    await next_emit(poller.state_changed)
    seen = []
    for _ in range(7):
        await until_state(poller, PollState.OFFLINE)
        seen.append((poller.retry_delay, poller.state_text))
        poller.refresh()  # try again now instead of waiting out the delay
        await next_emit(poller.error)
    delays = [d for d, _ in seen]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert seen[0][1] == "offline, retrying in 2 s"
    assert not poller.timer_active  # no regular ticks while backing off
    clock.advance(15)
    assert poller.state_text == "offline, retrying in 45 s"
    assert errors[0] == "API unreachable (check the network)"

    sync.fail = False
    poller.refresh()
    await until_state(poller, PollState.POLLING)
    assert poller.timer_active and poller.last_error is None
    sync.fail = True
    await until_state(poller, PollState.OFFLINE)
    assert poller.retry_delay == 2.0  # success reset the backoff


async def test_the_backoff_timer_retries_by_itself(make_poller: Any, sync: Sync) -> None:
    sync.fail = True
    poller = make_poller(backoff=Backoff(initial=0.01, maximum=0.02))
    poller.start()
    await next_emit(poller.error)
    sync.fail = False
    result = await next_emit(poller.tick_finished)
    assert isinstance(result[0], SyncResult)
    assert poller.state == PollState.POLLING


async def test_polling_stops_at_the_limit_and_resumes(
    make_poller: Any, sync: Sync, clock: Clock
) -> None:
    poller = make_poller(limit=3600.0)
    poller.start()
    await next_emit(poller.tick_finished)
    clock.advance(3600)
    await until_state(poller, PollState.LIMIT)
    calls = sync.calls
    assert not poller.timer_active and not poller.busy
    assert poller.state_text == "stopped after 1 h of polling: Refresh to resume"
    assert sync.calls == calls

    poller.resume()  # e.g. a push event
    assert poller.state == PollState.POLLING and poller.polling_since == clock.now
    await next_emit(poller.tick_finished)
    assert sync.calls > calls


async def test_polling_idles_when_nothing_is_pending_and_wakes_on_resume_or_refresh(
    make_poller: Any, sync: Sync
) -> None:
    sync.pending = False
    poller = make_poller()
    poller.start()
    await until_state(poller, PollState.IDLE)
    assert not poller.timer_active and poller.state_text == "idle: nothing pending"
    calls = sync.calls

    sync.pending = True
    poller.resume()
    await next_emit(poller.tick_finished)
    assert poller.state == PollState.POLLING and sync.calls == calls + 1

    sync.pending = False
    await until_state(poller, PollState.IDLE)
    poller.refresh()
    assert poller.state == PollState.POLLING
    await until_state(poller, PollState.IDLE)


async def test_a_paused_poller_stays_paused_until_unpaused(make_poller: Any, sync: Sync) -> None:
    poller = make_poller()
    poller.start()
    await next_emit(poller.tick_finished)
    poller.pause()
    assert poller.state == PollState.PAUSED and not poller.timer_active
    calls = sync.calls
    poller.resume()  # a push event does not override the person
    assert poller.state == PollState.PAUSED and sync.calls == calls
    poller.refresh()  # Refresh runs one pass and stays paused
    await next_emit(poller.tick_finished)
    assert poller.state == PollState.PAUSED and not poller.timer_active
    poller.unpause()
    assert poller.state == PollState.POLLING
    await next_emit(poller.tick_finished)


async def test_stop_cancels_a_running_pass(make_poller: Any, sync: Sync) -> None:
    sync.gate = asyncio.Event()
    poller = make_poller()
    poller.start()
    assert poller.busy
    await poller.aclose()
    assert not poller.busy and poller.state == PollState.STOPPED and sync.running == 0


@pytest.mark.parametrize("shut_down", ["stop", "aclose"])
async def test_a_stopped_poller_stays_stopped(make_poller: Any, sync: Sync, shut_down: str) -> None:
    """A late push event, Refresh or unpause after shutdown starts no timer and no pass."""
    poller = make_poller()
    poller.start()
    await next_emit(poller.tick_finished)
    if shut_down == "stop":
        poller.stop()
    else:
        await poller.aclose()
    calls = sync.calls
    poller.resume()
    poller.refresh()
    poller.pause()
    poller.unpause()
    assert poller.state == PollState.STOPPED
    assert not poller.timer_active and not poller.busy
    assert sync.calls == calls
    poller.start()  # only an explicit start brings it back
    assert poller.state == PollState.POLLING and poller.timer_active
    await next_emit(poller.tick_finished)
    assert sync.calls > calls


def test_default_rule_keeps_polling_only_while_a_batch_can_change() -> None:
    def result(*statuses: str) -> SyncResult:
        batches = {f"b{i}": make_batch(f"b{i}", s) for i, s in enumerate(statuses)}
        return SyncResult(events=[], batches=batches, requests=1)

    assert has_unfinished_batches(result("completed", "finalizing"))
    assert not has_unfinished_batches(result("completed", "failed"))
    assert not has_unfinished_batches(result())
