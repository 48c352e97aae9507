"""Where a Supabase sign-in lives between runs, and which keys a desktop may hold.

The session (access and refresh token) is kept in the OS keyring, not in a file: it
grants the user's data. Some keyrings (Windows' Credential Manager) cap one secret at
about 1,200 characters, less than a session, so long values are stored in chunks.

A ``service_role`` key bypasses row-level security and sees every user's rows; it
belongs on a server, never on a desktop, so it is refused unless asked for explicitly.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json

import keyring
from keyring.errors import KeyringError, PasswordDeleteError
from supabase_auth import AsyncSupportedStorage

from batchmon.store.protocol import StoreError

DEFAULT_SERVICE = "batchmon-supabase"
CHUNK_CHARS = 1000
_CHUNKED = "chunked:"


class KeyringSessionStorage(AsyncSupportedStorage):
    """supabase-py session storage backed by :mod:`keyring` (blocking calls off the loop)."""

    def __init__(self, service: str = DEFAULT_SERVICE) -> None:
        self.service = service

    async def get_item(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get, key)

    async def set_item(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._set, key, value)

    async def remove_item(self, key: str) -> None:
        await asyncio.to_thread(self._remove, key)

    def _get(self, key: str) -> str | None:
        head = self._read(key)
        if head is None or not head.startswith(_CHUNKED):
            return head
        try:
            count = int(head.removeprefix(_CHUNKED))
        except ValueError:
            return None
        parts = [self._read(f"{key}#{i}") for i in range(count)]
        if any(p is None for p in parts):
            return None  # a partial write: treat as signed out rather than crash
        return "".join(p for p in parts if p is not None)

    def _set(self, key: str, value: str) -> None:
        self._remove(key)
        try:
            if len(value) <= CHUNK_CHARS:
                keyring.set_password(self.service, key, value)
                return
            chunks = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)]
            for i, chunk in enumerate(chunks):
                keyring.set_password(self.service, f"{key}#{i}", chunk)
            keyring.set_password(self.service, key, f"{_CHUNKED}{len(chunks)}")
        except KeyringError as exc:
            raise StoreError(
                f"cannot save the Supabase sign-in in the system keyring ({exc}); "
                "unlock or install a keyring (e.g. GNOME Keyring, KWallet) and sign in again"
            ) from exc

    def _remove(self, key: str) -> None:
        head = self._read(key)
        names = [key]
        if head is not None and head.startswith(_CHUNKED):
            with contextlib.suppress(ValueError):
                names += [f"{key}#{i}" for i in range(int(head.removeprefix(_CHUNKED)))]
        for name in names:
            try:
                keyring.delete_password(self.service, name)
            except PasswordDeleteError:
                pass
            except KeyringError:
                pass

    def _read(self, key: str) -> str | None:
        try:
            return keyring.get_password(self.service, key)
        except KeyringError:
            return None


def api_key_role(key: str) -> str | None:
    """The role a Supabase API key grants: the JWT ``role`` claim, or the new key kinds.

    The signature is not checked (only Supabase can); this is a guard against pasting
    the wrong key, not an authentication.
    """
    if key.startswith("sb_secret_"):
        return "service_role"
    if key.startswith("sb_publishable_"):
        return "anon"
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if isinstance(role, str) else None


def check_desktop_key(key: str, *, allow_service_role: bool = False) -> None:
    """Refuse a key that would bypass row-level security, unless explicitly allowed."""
    if api_key_role(key) == "service_role" and not allow_service_role:
        raise StoreError(
            "this is the Supabase service_role (secret) key: it bypasses row-level security "
            "and shows every user's batches, so batchmon refuses it on a desktop. Use the "
            "project's anon (publishable) key and sign in with your email and password; on a "
            "trusted server, connect with the database URL or pass allow_service_role=True."
        )
