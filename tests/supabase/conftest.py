"""Supabase tests run on a database shaped like a fresh Supabase project.

``database_url`` is that database as its superuser, for arranging rows and checking
them; the gateway fixtures (tests/fixtures/gateway.py) serve it to supabase-py.
"""

from __future__ import annotations

import pytest

from tests.fixtures.supabase_project import SupabaseProject


@pytest.fixture
def database_url(supabase_project: SupabaseProject) -> str:
    return supabase_project.admin_url
