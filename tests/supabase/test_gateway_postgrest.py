"""The loopback PostgREST runs requests the way Supabase's does (checked from inside)."""

from __future__ import annotations

from tests.helpers.supabase import Users
from tests.supabase_gateway import Gateway

_SEEN = """
select current_user, session_user, current_setting('statement_timeout'),
       current_setting('transaction_read_only'),
       coalesce(current_setting('request.jwt.claim.sub', true), ''),
       current_setting('request.jwt.claims', true)::jsonb ->> 'sub'
"""


async def test_a_request_runs_as_the_jwt_role_from_the_authenticator_login(
    gateway: Gateway, users: Users
) -> None:
    claims = {"sub": users.alice.id, "role": "authenticated"}
    async with gateway.as_request(claims) as conn:
        write = await (await conn.execute(_SEEN)).fetchone()
    async with gateway.as_request(claims, read_only=True) as conn:
        read = await (await conn.execute(_SEEN)).fetchone()
    async with gateway.as_request({"role": "anon"}) as conn:
        anon = await (await conn.execute(_SEEN)).fetchone()

    assert write == ("authenticated", "authenticator", "8s", "off", "", users.alice.id)
    assert read is not None and read[3] == "on"  # STABLE and IMMUTABLE functions
    assert anon is not None and anon[:3] == ("anon", "authenticator", "3s")
