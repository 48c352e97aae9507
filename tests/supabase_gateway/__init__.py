"""A loopback Supabase for tests: Auth, PostgREST RPC and Realtime over the real protocols.

Hosted Supabase cannot be reached from the test machines, so this package serves the
endpoints supabase-py calls, backed by a real PostgreSQL with real roles and RLS.
"""

from tests.supabase_gateway.app import Gateway
from tests.supabase_gateway.tokens import TEST_JWT_SECRET, TokenAuthority, User

__all__ = ["TEST_JWT_SECRET", "Gateway", "TokenAuthority", "User"]
