"""Model names: the name a person asked for, and the dated snapshot OpenAI reports.

Request lines say ``gpt-4o-mini``; ``batch.model`` says which snapshot ran
(``gpt-4o-mini-2024-07-18``). Prices, retries and the table speak of the former.
"""

from __future__ import annotations

import re

_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def base_model(model: str) -> str:
    """``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``; a name without a date is itself."""
    return _SNAPSHOT_DATE.sub("", model)
