"""Jobs run against a simulator whose queue enforces an enqueued-token limit."""

from __future__ import annotations

import pytest

from batchmon.sim import ManualClock, Simulator
from batchmon.sim.queue import QueueLimits
from tests.fixtures.sim import SIM_API_KEY
from tests.helpers.jobs import MODEL, SIM_LIMIT


@pytest.fixture
def simulator() -> Simulator:
    """The usual test simulator, its gpt-4o-mini queue limited to SIM_LIMIT tokens."""
    return Simulator(ManualClock(), api_key=SIM_API_KEY, queue=QueueLimits({MODEL: SIM_LIMIT}))
