"""An OpenAI-compatible Batch API simulator for the offline demo and the test suite.

Create a Simulator on a clock, serve create_app(sim) with uvicorn or mount it in-process,
and script batches through `sim_*` metadata keys or the /_sim control routes. It fails
like OpenAI: validation codes, late input-file failures, the per-model enqueued-token
queue (QueueLimits), file expiry, and server-wide faults including malformed 200s.
"""

from .app import SimulatedDisconnect, create_app
from .clock import Clock, ManualClock, ScaledClock
from .faults import Fault, FaultConfig
from .lifecycle import Timing
from .queue import QueueLimits
from .rules import predicted_tags
from .script import BatchScript
from .simulator import Simulator
from .webhooks import SimWebhooks, WebhookEndpoint

__all__ = [
    "BatchScript",
    "Clock",
    "Fault",
    "FaultConfig",
    "ManualClock",
    "QueueLimits",
    "ScaledClock",
    "SimWebhooks",
    "SimulatedDisconnect",
    "Simulator",
    "Timing",
    "WebhookEndpoint",
    "create_app",
    "predicted_tags",
]
