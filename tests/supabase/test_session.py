"""Signing in, keeping the session in the keyring, and refusing the wrong key."""

from __future__ import annotations

import json

import pytest

from batchmon.store.protocol import PermissionDenied, StoreError
from batchmon.store.supabase_session import (
    CHUNK_CHARS,
    KeyringSessionStorage,
    api_key_role,
    check_desktop_key,
)
from tests.fixtures.keyring import MemoryKeyring
from tests.fixtures.postgres import insert_assets, openai_batch
from tests.helpers.supabase import PASSWORD, StoreFactory, Users
from tests.supabase.helpers import batch_status, is_live, live_feed, wait_for_change
from tests.supabase_gateway import Gateway

SESSION_KEY = "supabase.auth.token"  # supabase_auth's storage key


async def test_sign_in_keeps_the_session_in_the_keyring(
    open_store: StoreFactory, users: Users, memory_keyring: MemoryKeyring
) -> None:
    store = await open_store(service="batchmon-desk")
    assert await store.user_id() is None

    assert await store.sign_in(users.alice.email, PASSWORD) == users.alice.id

    saved = await KeyringSessionStorage("batchmon-desk").get_item(SESSION_KEY)
    assert saved is not None
    assert json.loads(saved)["user"]["id"] == users.alice.id
    # Stored in keyring-sized pieces, none over the limit some keyrings impose.
    assert all(len(v) <= CHUNK_CHARS for v in memory_keyring.secrets.values())


async def sign_in_and_quit(open_store: StoreFactory, users: Users) -> None:
    """Alice signs in on the desktop and quits: her session waits in the keyring."""
    first = await open_store(service="batchmon-desk")
    await first.sign_in(users.alice.email, PASSWORD)
    await first.close()


async def test_a_restored_session_needs_no_password_and_gives_realtime_the_users_jwt(
    open_store: StoreFactory, users: Users, gateway: Gateway, database_url: str
) -> None:
    await sign_in_and_quit(open_store, users)
    grants = gateway.counts["tokens_issued"]

    store = await open_store(service="batchmon-desk")

    assert await store.user_id() == users.alice.id
    assert gateway.counts["tokens_issued"] == grants  # no new sign-in happened
    session = await store.client.auth.get_session()
    assert session is not None
    assert store.client.realtime.access_token == session.access_token
    # RLS lets only Alice's JWT see her rows: the feed receiving them proves realtime has it.
    ids = insert_assets(database_url, 2, user_id=users.alice.id)
    feed = await live_feed(store)
    await store.mark_submitted(openai_batch("batch_restored"), ids)
    change = await wait_for_change(feed, batch_status("batch_restored", "in_progress"))
    assert change.payload["user_id"] == users.alice.id


async def test_wrong_password_is_refused_with_the_email_named(
    open_store: StoreFactory, users: Users
) -> None:
    store = await open_store()
    with pytest.raises(PermissionDenied, match=r"alice@example\.test"):
        await store.sign_in(users.alice.email, "not the password")
    assert await store.user_id() is None


async def test_signed_out_calls_are_refused(open_store: StoreFactory) -> None:
    store = await open_store()
    with pytest.raises(PermissionDenied, match="permission denied"):
        await store.pending_batches()


async def test_sign_out_forgets_the_saved_session(open_store: StoreFactory, users: Users) -> None:
    store = await open_store(service="batchmon-desk")
    await store.sign_in(users.alice.email, PASSWORD)
    await store.sign_out()
    assert await KeyringSessionStorage("batchmon-desk").get_item(SESSION_KEY) is None
    again = await open_store(service="batchmon-desk")
    assert await again.user_id() is None


async def test_the_service_role_key_is_refused_on_a_desktop(
    open_store: StoreFactory, gateway: Gateway
) -> None:
    with pytest.raises(StoreError, match="service_role") as refused:
        await open_store(key=gateway.service_role_key)
    assert "anon" in str(refused.value)  # says which key to use instead


async def test_the_service_role_key_is_allowed_when_asked_for_and_sees_every_user(
    open_store: StoreFactory, gateway: Gateway, users: Users, database_url: str
) -> None:
    insert_assets(database_url, 1, user_id=users.alice.id, batch_id="batch_a")
    insert_assets(database_url, 1, user_id=users.bob.id, batch_id="batch_b")
    server = await open_store(key=gateway.service_role_key, allow_service_role=True)
    assert {p.batch_id for p in await server.pending_batches()} == {"batch_a", "batch_b"}


@pytest.mark.parametrize(
    ("key", "role"),
    [
        ("sb_secret_abc123", "service_role"),
        ("sb_publishable_abc123", "anon"),
        ("not-a-jwt", None),
        ("a.!!!.c", None),
    ],
)
def test_api_key_role_reads_new_and_legacy_keys(key: str, role: str | None) -> None:
    assert api_key_role(key) == role


def test_new_style_secret_keys_are_refused_too() -> None:
    with pytest.raises(StoreError, match="service_role"):
        check_desktop_key("sb_secret_abc123")
    check_desktop_key("sb_secret_abc123", allow_service_role=True)


async def test_keyring_storage_round_trips_long_values_and_removes_every_chunk(
    memory_keyring: MemoryKeyring,
) -> None:
    storage = KeyringSessionStorage("svc")
    value = "x" * (CHUNK_CHARS * 2 + 5)
    await storage.set_item("k", value)
    assert await storage.get_item("k") == value
    assert len(memory_keyring.secrets) == 4  # header + 3 chunks
    await storage.set_item("k", "short")  # a shorter value replaces every chunk
    assert await storage.get_item("k") == "short"
    assert len(memory_keyring.secrets) == 1
    await storage.remove_item("k")
    assert memory_keyring.secrets == {}
    assert await storage.get_item("k") is None


async def test_an_expired_saved_session_is_refreshed_on_start(
    open_store: StoreFactory, users: Users, gateway: Gateway, memory_keyring: MemoryKeyring
) -> None:
    await sign_in_and_quit(open_store, users)
    storage = KeyringSessionStorage("batchmon-desk")
    saved = json.loads(await storage.get_item(SESSION_KEY) or "{}")
    saved["expires_at"] = 1  # as if the desktop was closed for a long time
    await storage.set_item(SESSION_KEY, json.dumps(saved))

    store = await open_store(service="batchmon-desk")

    assert gateway.tokens.refreshes == 1
    assert await store.user_id() == users.alice.id
    assert await store.pending_batches() == []


async def test_a_token_the_server_calls_expired_is_refreshed_and_the_call_retried(
    alice_store: object, users: Users, gateway: Gateway, database_url: str
) -> None:
    from batchmon.store.supabase import SupabaseStore

    assert isinstance(alice_store, SupabaseStore)
    insert_assets(database_url, 2, user_id=users.alice.id, batch_id="batch_a")
    await gateway.expire_tokens()  # the server's clock passes the token's exp

    pending = await alice_store.pending_batches()

    assert [p.batch_id for p in pending] == ["batch_a"]
    assert gateway.tokens.refreshes == 1


async def test_a_refused_refresh_asks_the_person_to_sign_in_again(
    alice_store: object, gateway: Gateway
) -> None:
    from batchmon.store.supabase import SupabaseStore

    assert isinstance(alice_store, SupabaseStore)
    gateway.tokens.sign_out({"sub": (await alice_store.user_id())}, "global")
    await gateway.expire_tokens()
    with pytest.raises(PermissionDenied, match="sign in again"):
        await alice_store.pending_batches()


async def test_a_publishable_key_signs_in_calls_and_streams_as_the_user(
    open_store: StoreFactory, gateway: Gateway, users: Users, database_url: str
) -> None:
    insert_assets(database_url, 1, user_id=users.alice.id, batch_id="batch_a")
    insert_assets(database_url, 1, user_id=users.bob.id, batch_id="batch_b")
    store = await open_store(key=gateway.tokens.publishable_key)
    with pytest.raises(PermissionDenied):  # signed out, the key alone is anon: refused
        await store.pending_batches()

    await store.sign_in(users.alice.email, PASSWORD)

    assert [p.batch_id for p in await store.pending_batches()] == ["batch_a"]
    await wait_for_change(store.changes(), is_live)


async def test_a_secret_key_is_refused_on_a_desktop_unless_forced(
    open_store: StoreFactory, gateway: Gateway, users: Users, database_url: str
) -> None:
    insert_assets(database_url, 1, user_id=users.alice.id, batch_id="batch_a")
    insert_assets(database_url, 1, user_id=users.bob.id, batch_id="batch_b")
    with pytest.raises(StoreError, match="service_role"):
        await open_store(key=gateway.tokens.secret_key)

    server = await open_store(key=gateway.tokens.secret_key, allow_service_role=True)

    assert {p.batch_id for p in await server.pending_batches()} == {"batch_a", "batch_b"}
