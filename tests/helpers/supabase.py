"""Names the Supabase tests share: the test password, the two users, the store factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from batchmon.store.supabase import SupabaseStore
from tests.supabase_gateway import User

PASSWORD = "correct horse battery staple"

StoreFactory = Callable[..., Awaitable[SupabaseStore]]
"""``open_store``: opens a SupabaseStore on the gateway, closed after the test."""


@dataclass
class Users:
    alice: User
    bob: User
