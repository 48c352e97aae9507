"""Every way of asking the desktop to stop ends in one orderly shutdown."""

from __future__ import annotations

import asyncio
import os
import signal

from batchmon.ui.shutdown import QuitRequest


async def test_ctrl_c_becomes_a_quit_request_on_the_qt_loop() -> None:
    """SIGINT wakes the idle Qt loop at once and is remembered as the reason."""
    loop = asyncio.get_running_loop()
    request = QuitRequest()
    request.install_signal_handlers(loop)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert await asyncio.wait_for(request.wait(), 5) == "SIGINT"
    finally:
        request.remove_signal_handlers(loop)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


async def test_the_first_reason_wins() -> None:
    request = QuitRequest()
    assert not request.requested
    request.request("window closed")
    request.request("SIGTERM")
    assert request.requested
    assert await request.wait() == "window closed"
