"""SupabaseStore: the SQL API over Supabase's REST (``rpc``) and Realtime, as one user.

A desktop signs in with email and password; every call then runs as that user, so
row-level security shows and changes only their batches. The session is kept in the
OS keyring and restored on start (``initialize_from_storage``), which is also what
gives Realtime the user's JWT instead of the anonymous key. The methods are
:class:`~batchmon.store.api.Store`'s; here each SQL function is called through
PostgREST's ``rpc`` with its named parameters as JSON.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions
from supabase.types import RealtimeClientOptions
from supabase_auth import AsyncSupportedStorage
from supabase_auth.errors import AuthApiError, AuthError

from batchmon.store.api import APPLY_CHUNK_ROWS, Args, Json, Store
from batchmon.store.errors import from_sqlstate
from batchmon.store.paging import PAGE_ROWS
from batchmon.store.protocol import Change, PermissionDenied, StoreError
from batchmon.store.supabase_feed import FeedOptions, RealtimeFeed
from batchmon.store.supabase_session import KeyringSessionStorage, check_desktop_key

logger = logging.getLogger(__name__)

_JWT_CODES = {"PGRST301", "PGRST302", "PGRST303"}


def _json_arg(value: Any) -> Any:
    """An RPC argument as JSON: intervals as "N seconds", datetimes as ISO strings."""
    if isinstance(value, Json):
        return _json_value(value.value)
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    return _json_value(value)


def _json_value(value: Any) -> Any:
    """A value made JSON-safe, nested ones too (datetimes as ISO strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    return value


def translate_api_error(exc: APIError, *, batch_id: str | None = None) -> StoreError:
    """A PostgREST error as the store's error a person can act on."""
    code = exc.code or ""
    message = exc.message or str(exc)
    if code in _JWT_CODES:
        return PermissionDenied(
            f"the Supabase session is no longer valid ({message}); sign in again"
        )
    return from_sqlstate(
        code,
        message,
        detail=str(exc.details) if exc.details else None,
        hint=exc.hint,
        batch_id=batch_id,
        label=f"Supabase error {code}" if code else "Supabase error",
    )


class SupabaseStore(Store):
    """The :class:`~batchmon.store.api.Store` over supabase-py, as a signed-in user."""

    source = "Supabase"
    max_set_rows = PAGE_ROWS

    def __init__(
        self,
        client: AsyncClient,
        *,
        http_client: httpx.AsyncClient | None = None,
        chunk_rows: int = APPLY_CHUNK_ROWS,
        feed_options: FeedOptions | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.client = client
        self._http_client = http_client
        self.chunk_rows = chunk_rows
        self.feed = RealtimeFeed(client, options=feed_options, refresh_session=self._refresh)

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        storage: AsyncSupportedStorage | None = None,
        allow_service_role: bool = False,
        realtime: RealtimeClientOptions | None = None,
        feed_options: FeedOptions | None = None,
        chunk_rows: int = APPLY_CHUNK_ROWS,
        http_timeout: float = 30.0,
    ) -> SupabaseStore:
        """Open a client for project ``url`` with its anon ``key``; restore a saved sign-in.

        ``storage`` defaults to the OS keyring. A ``service_role`` key is refused unless
        ``allow_service_role`` (it would bypass row-level security).
        """
        check_desktop_key(key, allow_service_role=allow_service_role)
        http_client = httpx.AsyncClient(timeout=http_timeout)
        options = AsyncClientOptions(
            storage=storage if storage is not None else KeyringSessionStorage(),
            persist_session=True,
            auto_refresh_token=True,
            realtime=realtime,
            httpx_client=http_client,
        )
        try:
            client = await AsyncClient.create(url, key, options)
            store = cls(
                client, http_client=http_client, chunk_rows=chunk_rows, feed_options=feed_options
            )
            await store.restore_session()
        except AuthError as exc:
            await http_client.aclose()
            raise StoreError(f"cannot restore the Supabase sign-in: {exc}") from exc
        except Exception:
            await http_client.aclose()
            raise
        return store

    # -- session --

    async def restore_session(self) -> str | None:
        """Load the saved session (refreshing it if expired); returns the user id or None.

        realtime-py keeps the anon key until told otherwise, so the user's JWT is handed
        to it here, before any channel joins.
        """
        await self.client.auth.initialize_from_storage()
        session = await self.client.auth.get_session()
        if session is None:
            return None
        await self.client.realtime.set_auth(session.access_token)
        return session.user.id

    async def sign_in(self, email: str, password: str) -> str:
        """Sign in with email and password; the session is saved for the next start."""
        try:
            response = await self.client.auth.sign_in_with_password(
                {"email": email, "password": password}
            )
        except AuthApiError as exc:
            raise PermissionDenied(f"Supabase refused the sign-in for {email}: {exc}") from exc
        except (AuthError, httpx.HTTPError) as exc:
            raise StoreError(f"cannot reach Supabase to sign in: {exc}") from exc
        if response.session is None or response.user is None:
            raise PermissionDenied(f"Supabase gave no session for {email}; confirm the email first")
        await self.client.realtime.set_auth(response.session.access_token)
        return response.user.id

    async def sign_out(self) -> None:
        """Sign out here and forget the saved session."""
        try:
            await self.client.auth.sign_out({"scope": "local"})
        except (AuthError, httpx.HTTPError) as exc:
            logger.warning("signed out locally; the server did not confirm: %s", exc)

    async def user_id(self) -> str | None:
        session = await self.client.auth.get_session()
        return session.user.id if session else None

    async def _refresh(self) -> None:
        try:
            await self.client.auth.refresh_session()
        except (AuthError, httpx.HTTPError) as exc:
            raise PermissionDenied(
                f"the Supabase session expired and could not be renewed ({exc}); sign in again"
            ) from exc

    # -- rpc: the transport under the Store --

    async def _rpc(self, fn: str, params: Mapping[str, Any], *, batch_id: str | None = None) -> Any:
        args = {k: _json_arg(v) for k, v in params.items()}
        for attempt in (1, 2):
            try:
                response = await self.client.rpc(fn, args).execute()
            except APIError as exc:
                if attempt == 1 and (exc.code in _JWT_CODES or exc.message == "JWT expired"):
                    await self._refresh()  # the server's clock says the token ran out
                    continue
                raise translate_api_error(exc, batch_id=batch_id) from exc
            except httpx.HTTPError as exc:
                raise StoreError(
                    f"cannot reach Supabase at {self.client.supabase_url} ({exc}); "
                    "check the network and the project URL"
                ) from exc
            return response.data
        raise AssertionError("unreachable")

    async def _rows(
        self, fn: str, args: Args, *, batch_id: str | None = None
    ) -> list[Mapping[str, Any]]:
        data = await self._rpc(fn, args, batch_id=batch_id)
        rows = [] if data is None else [data] if isinstance(data, Mapping) else data
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise StoreError(f"unexpected reply from Supabase: expected rows, got {data!r:.200}")
        return rows

    async def _value(self, fn: str, args: Args, *, batch_id: str | None = None) -> Any:
        return await self._rpc(fn, args, batch_id=batch_id)

    async def _column(self, fn: str, args: Args, *, batch_id: str | None = None) -> list[Any]:
        return list(await self._rpc(fn, args, batch_id=batch_id) or [])

    def changes(self) -> AsyncIterator[Change]:
        return self.feed.changes()

    async def close(self) -> None:
        await self.feed.close()
        # supabase-py has no public way to stop its token refresh timer.
        timer = getattr(self.client.auth, "_refresh_token_timer", None)
        if timer is not None:
            timer.cancel()
        if self._http_client is not None:
            await self._http_client.aclose()


__all__ = ["APPLY_CHUNK_ROWS", "FeedOptions", "SupabaseStore", "translate_api_error"]
