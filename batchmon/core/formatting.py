"""How durations read to a person, the same in the table, the detail pane and the CLI."""

from __future__ import annotations


def format_duration(seconds: float | None, *, precise: bool = False) -> str:
    """``45s``, ``12m``, ``1h 05m``, ``2d 03h``; ``precise`` keeps seconds: ``12m 05s``.

    Short enough for a table cell; ``None`` (not known) reads as ``-``.
    """
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if precise else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def format_tokens(count: int) -> str:
    """``1.2M``, ``850k``, ``900``: token and request figures read at a glance."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M".replace(".0M", "M")
    if count >= 10_000:
        return f"{count / 1000:.0f}k"
    return f"{count:,}"
