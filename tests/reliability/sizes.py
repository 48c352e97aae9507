"""How much work each heavy reliability test pushes through: CI size or full size.

``RELIABILITY_FULL=1`` selects the full size recorded in docs/reliability.md.
"""

from __future__ import annotations

import os

FULL = os.environ.get("RELIABILITY_FULL", "").strip() not in ("", "0")


def size(ci: int, full: int) -> int:
    """``full`` when RELIABILITY_FULL is set, else ``ci``."""
    return full if FULL else ci
