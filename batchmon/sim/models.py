"""The models the simulated Batch API knows, and the dated snapshot each name runs on.

OpenAI fails a batch whose lines name a model it does not serve (`model_not_found`) and
reports the snapshot that ran in `batch.model` and in each answer's `model`: request lines
say `gpt-4o-mini`, the batch says `gpt-4o-mini-2024-07-18`. A dated name of a known model
(`gpt-4o-2024-05-13`) is accepted as it is.
"""

from __future__ import annotations

import re

# Each name a request may use -> the snapshot it resolves to (OpenAI's model pages).
SNAPSHOTS: dict[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o3": "o3-2025-04-16",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-instruct": "gpt-3.5-turbo-instruct",
    "babbage-002": "babbage-002",
    "davinci-002": "davinci-002",
    "text-embedding-3-small": "text-embedding-3-small",
    "text-embedding-3-large": "text-embedding-3-large",
    "text-embedding-ada-002": "text-embedding-ada-002",
    "omni-moderation-latest": "omni-moderation-2024-09-26",
    "text-moderation-latest": "text-moderation-007",
}
_DATED = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def base_model(model: str) -> str | None:
    """The undated name of a known model (`gpt-4o-mini-2024-07-18` -> `gpt-4o-mini`)."""
    if model in SNAPSHOTS:
        return model
    for name, snapshot in SNAPSHOTS.items():
        if model == snapshot:
            return name
    dated = _DATED.match(model)
    if dated and dated.group("base") in SNAPSHOTS:
        return dated.group("base")
    return None


def snapshot_of(model: str) -> str | None:
    """The snapshot a request naming `model` runs on; None for a model OpenAI does not serve."""
    base = base_model(model)
    if base is None:
        return None
    return SNAPSHOTS.get(model, model)
