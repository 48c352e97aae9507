"""Durations read the same everywhere: table, detail pane, status bar and CLI."""

from __future__ import annotations

import pytest

from batchmon.core.formatting import format_duration


@pytest.mark.parametrize(
    ("seconds", "text", "precise_text"),
    [
        (None, "-", "-"),
        (-5, "0s", "0s"),
        (45.9, "45s", "45s"),
        (725, "12m", "12m 05s"),
        (3900, "1h 05m", "1h 05m"),
        (2 * 86400 + 3 * 3600 + 59, "2d 03h", "2d 03h"),
    ],
)
def test_format_duration(seconds: float | None, text: str, precise_text: str) -> None:
    assert format_duration(seconds) == text
    assert format_duration(seconds, precise=True) == precise_text
