"""The only part of batchmon that talks to the OpenAI SDK: batches, files, typed errors.

The typed errors are those :mod:`.errors` lists in its ``__all__``; a new one is
exported here by adding it there.
"""

from . import errors
from .client import PAGE_SIZE, BatchClient, StatusReport
from .errors import *  # noqa: F403

__all__ = ["PAGE_SIZE", "BatchClient", "StatusReport"]
__all__ += errors.__all__
