"""The UI tests' own loop: once closed it leaves no Qt timer for another thread to free.

A closed qasync loop is freed by the cyclic garbage collector on whichever thread runs a
collection. If its timer object still held Qt timers then, Qt warned "Timers cannot be
stopped from another thread" and later crashed delivering one of them.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest
import shiboken6

from tests.fixtures.loops import qt_test_loop

STRAY_TIMER_WARNING = "Timers cannot be stopped from another thread"


def _collect_on_another_thread() -> None:
    collector = threading.Thread(target=gc.collect, name="collector")
    collector.start()
    collector.join()


def test_a_closed_loop_freed_on_another_thread_leaves_no_qt_timer(qapp: Any, qtlog: Any) -> None:
    loop = qt_test_loop()
    loop.call_later(3600, lambda: None)  # a pending timeout, as a cancelled wait_for leaves
    timer = loop._timer  # type: ignore[attr-defined]
    loop.close()
    assert not shiboken6.isValid(timer)

    gc.collect()
    gc.disable()  # only the collector thread may free the loop
    try:
        del loop, timer
        _collect_on_another_thread()
    finally:
        gc.enable()
    qapp.processEvents()

    assert not [r for r in qtlog.records if STRAY_TIMER_WARNING in r.message]


def test_a_closed_loop_refuses_new_callbacks_like_asyncio_loops(qapp: Any) -> None:
    loop = qt_test_loop()
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon(lambda: None)
