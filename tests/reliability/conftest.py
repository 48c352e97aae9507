"""Reliability test wiring: the in-process BatchClient without SDK retries.

Heavy runs have two sizes: the CI size (default, keeps the suite fast) and the full
size documented in docs/reliability.md (``RELIABILITY_FULL=1``). The Supabase gateway
fixtures come from tests/fixtures/gateway.py.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def sim_client_options() -> dict[str, Any]:
    """No SDK retries: every fault reaches batchmon's own handling."""
    return {"max_retries": 0}
