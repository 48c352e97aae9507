"""Fixtures for SupabaseStore tests: the loopback gateway, users, a keyring, stores.

The gateway runs inside the test's event loop on 127.0.0.1, backed by the test's own
copy of a migrated database shaped like a fresh Supabase project (roles, grants, default
privileges, ``auth`` schema, publication); its PostgREST logs in as ``authenticator``.
supabase-py talks to it over real HTTP and WebSocket connections. ``database_url`` here
is that database as its superuser, for arranging rows and checking them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from batchmon.core.backoff import Backoff
from batchmon.store.supabase import SupabaseStore
from batchmon.store.supabase_feed import FeedOptions
from batchmon.store.supabase_session import KeyringSessionStorage
from tests.fixtures.keyring import MemoryKeyring
from tests.fixtures.supabase_project import SupabaseProject, authenticator_url
from tests.supabase_gateway import Gateway, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def database_url(supabase_project: SupabaseProject) -> str:
    return supabase_project.admin_url


@pytest.fixture
async def gateway(database_url: str, supabase_template: str) -> AsyncIterator[Gateway]:
    """The gateway on ``database_url``; its PostgREST logs in as ``authenticator``."""
    gw = Gateway(database_url, rest_url=authenticator_url(database_url))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@dataclass
class Users:
    alice: User
    bob: User


@pytest.fixture
def users(gateway: Gateway) -> Users:
    return Users(
        alice=gateway.tokens.add_user("alice@example.test", PASSWORD),
        bob=gateway.tokens.add_user("bob@example.test", PASSWORD),
    )


FAST_FEED = FeedOptions(
    check_interval=0.05, stale_after=5.0, backoff=Backoff(initial=0.05, maximum=0.2)
)
FAST_REALTIME: dict[str, Any] = {"max_retries": 3, "initial_backoff": 0.02}

StoreFactory = Callable[..., Awaitable[SupabaseStore]]


@pytest.fixture
async def open_store(
    gateway: Gateway, memory_keyring: MemoryKeyring
) -> AsyncIterator[StoreFactory]:
    """Open SupabaseStores on the gateway (keyring-backed sessions); closes them after."""
    opened: list[SupabaseStore] = []

    async def factory(
        *,
        service: str = "batchmon-test",
        feed: FeedOptions = FAST_FEED,
        realtime: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SupabaseStore:
        store = await SupabaseStore.connect(
            gateway.url,
            kwargs.pop("key", gateway.anon_key),
            storage=KeyringSessionStorage(service),
            realtime=realtime or FAST_REALTIME,  # type: ignore[arg-type]
            feed_options=feed,
            **kwargs,
        )
        opened.append(store)
        return store

    try:
        yield factory
    finally:
        for store in reversed(opened):
            await store.close()


@pytest.fixture
async def alice_store(open_store: StoreFactory, users: Users) -> SupabaseStore:
    store = await open_store(service="batchmon-alice")
    await store.sign_in(users.alice.email, PASSWORD)
    return store


@pytest.fixture
async def bob_store(open_store: StoreFactory, users: Users) -> SupabaseStore:
    store = await open_store(service="batchmon-bob")
    await store.sign_in(users.bob.email, PASSWORD)
    return store
