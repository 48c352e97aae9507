"""SupabaseStore: the SQL API over Supabase's REST (``rpc``) and Realtime, as one user.

A desktop signs in with email and password; every call then runs as that user, so
row-level security shows and changes only their batches. The session is kept in the
OS keyring and restored on start (``initialize_from_storage``), which is also what
gives Realtime the user's JWT instead of the anonymous key. Calls are the same SQL
functions :class:`~batchmon.store.postgres.PostgresStore` runs, through PostgREST.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions
from supabase.types import RealtimeClientOptions
from supabase_auth import AsyncSupportedStorage
from supabase_auth.errors import AuthApiError, AuthError

from batchmon.store.copy_text import storable
from batchmon.store.errors import from_sqlstate
from batchmon.store.job_rows import (
    EndedJobBatch,
    JobBatch,
    JobBatchPart,
    JobCancel,
    JobSummary,
    ModelLimit,
    asset_id_pages,
    job_batch_part,
)
from batchmon.store.paging import ALL_ROWS, PAGE_ROWS, Cursor, chunks, read_pages
from batchmon.store.protocol import (
    ApplyCounts,
    AssetRow,
    BatchRow,
    Change,
    PendingBatch,
    PermissionDenied,
    PollRun,
    ResultRow,
    ResultsState,
    RetryLink,
    StoreError,
)
from batchmon.store.supabase_feed import FeedOptions, RealtimeFeed
from batchmon.store.supabase_rows import parse_timestamp, rows_to, to_json_value
from batchmon.store.supabase_session import KeyringSessionStorage, check_desktop_key

logger = logging.getLogger(__name__)

APPLY_CHUNK_ROWS = 1000
_JWT_CODES = {"PGRST301", "PGRST302", "PGRST303"}


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds()} seconds"


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


class SupabaseStore:
    """The :class:`~batchmon.store.protocol.Store` over supabase-py, as a signed-in user."""

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

    # -- rpc --

    async def _rpc(self, fn: str, params: Mapping[str, Any], *, batch_id: str | None = None) -> Any:
        args = {k: to_json_value(v) for k, v in params.items()}
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

    # -- the Store protocol --

    async def pending_batches(self) -> list[PendingBatch]:
        async def page(after: Cursor | None, size: int) -> list[PendingBatch]:
            oldest, batch = after or (None, None)
            params = {"p_limit": size, "p_after_oldest": oldest, "p_after_batch": batch}
            return rows_to(PendingBatch, await self._rpc("pending_batches", params))

        return await read_pages(page, lambda p: (p.oldest_asset_at, p.batch_id), ALL_ROWS)

    async def list_batches(self, *, limit: int = 10_000) -> list[BatchRow]:
        async def page(after: Cursor | None, size: int) -> list[BatchRow]:
            created, batch = after or (None, None)
            params = {"p_limit": size, "p_after_created_at": created, "p_after_id": batch}
            return rows_to(BatchRow, await self._rpc("list_batches", params))

        return await read_pages(page, lambda b: (b.created_at, b.id), limit)

    async def get_batch(self, batch_id: str) -> BatchRow | None:
        rows = rows_to(BatchRow, await self._rpc("get_batch", {"p_batch": batch_id}))
        return rows[0] if rows else None

    async def last_batch_change(self) -> datetime | None:
        return parse_timestamp(await self._rpc("last_batch_change", {}))

    async def record_statuses(self, batches: Sequence[Mapping[str, Any]]) -> int:
        if not batches:
            return 0
        data = await self._rpc("record_batch_statuses", {"p_batches": list(batches)})
        return int(data or 0)

    async def claim_due(
        self,
        worker_id: str,
        *,
        min_age: timedelta,
        interval: timedelta,
        lease: timedelta,
        limit: int = 10_000,
    ) -> list[str]:
        data = await self._rpc(
            "claim_due_batches",
            {
                "p_worker": worker_id,
                "p_min_age": _seconds(min_age),
                "p_interval": _seconds(interval),
                "p_lease": _seconds(lease),
                # PostgREST returns at most db-max-rows of a set: claim no more than that,
                # or the rest would stay claimed, unreported, until their lease ran out.
                "p_limit": min(limit, PAGE_ROWS),
            },
        )
        return [str(x) for x in data or []]

    async def release_claims(self, worker_id: str, batch_ids: Iterable[str]) -> int:
        ids = list(batch_ids)
        if not ids:
            return 0
        data = await self._rpc("release_claims", {"p_worker": worker_id, "p_batch_ids": ids})
        return int(data or 0)

    async def renew_claims(
        self, worker_id: str, batch_ids: Iterable[str], *, lease: timedelta
    ) -> int:
        ids = list(batch_ids)
        if not ids:
            return 0
        params = {"p_worker": worker_id, "p_batch_ids": ids, "p_lease": _seconds(lease)}
        return int(await self._rpc("renew_claims", params) or 0)

    async def apply_results(
        self, batch_id: str, rows: AsyncIterable[ResultRow] | Iterable[ResultRow]
    ) -> ApplyCounts:
        total = ApplyCounts()
        async for chunk in chunks(rows, self.chunk_rows):
            payload = [
                {
                    "asset_id": r.asset_id,
                    "ok": r.ok,
                    "tags": None if r.tags is None else [storable(t) for t in r.tags],
                    "error": None if r.error is None else storable(r.error),
                }
                for r in chunk
            ]
            data = await self._rpc(
                "apply_batch_results", {"p_batch": batch_id, "p_rows": payload}, batch_id=batch_id
            )
            total = total + self._counts(data)
        return total

    async def finish_apply(self, batch_id: str, *, unreturned_reason: str) -> ApplyCounts:
        data = await self._rpc(
            "finish_batch_apply",
            {"p_batch": batch_id, "p_reason": unreturned_reason},
            batch_id=batch_id,
        )
        return self._counts(data)

    async def mark_batch_failed(self, batch_id: str, reason: str) -> ApplyCounts:
        data = await self._rpc(
            "mark_batch_failed", {"p_batch": batch_id, "p_reason": reason}, batch_id=batch_id
        )
        return self._counts(data)

    @staticmethod
    def _counts(data: Any) -> ApplyCounts:
        rows = rows_to(ApplyCounts, data)
        return rows[0] if rows else ApplyCounts()

    async def batch_assets(self, batch_id: str, *, limit: int = 100_000) -> list[AssetRow]:
        async def page(after: Cursor | None, size: int) -> list[AssetRow]:
            created, asset = after or (None, None)
            params = {
                "p_batch": batch_id,
                "p_limit": size,
                "p_after_created_at": created,
                "p_after_id": asset,
            }
            return rows_to(AssetRow, await self._rpc("batch_assets", params))

        return await read_pages(page, lambda a: (a.created_at, a.id), limit)

    async def batch_asset_ids(self, batch_id: str) -> list[str]:
        data = await self._rpc("batch_asset_ids", {"p_batch": batch_id}, batch_id=batch_id)
        return [str(x) for x in data or []]

    async def assets_by_ids(self, asset_ids: Sequence[str]) -> list[AssetRow]:
        found: list[AssetRow] = []
        async for ids in chunks(asset_ids, PAGE_ROWS):
            found.extend(rows_to(AssetRow, await self._rpc("assets_by_ids", {"p_ids": ids})))
        return found

    async def untagged_asset_ids(self, *, limit: int | None = None) -> list[str]:
        async def page(after: Cursor | None, size: int) -> list[Cursor]:
            created, asset = after or (None, None)
            params = {"p_limit": size, "p_after_created_at": created, "p_after_id": asset}
            rows = await self._rpc("untagged_assets", params)
            return [(r["created_at"], r["asset_id"]) for r in rows or []]

        rows = await read_pages(page, lambda r: r, ALL_ROWS if limit is None else limit)
        return [asset_id for _, asset_id in rows]

    async def untagged_count(self) -> int:
        return int(await self._rpc("untagged_asset_count", {}) or 0)

    async def mark_submitted(self, batch: Mapping[str, Any], asset_ids: Sequence[str]) -> int:
        data = await self._rpc(
            "mark_batch_submitted", {"p_batch": dict(batch), "p_asset_ids": list(asset_ids)}
        )
        return int(data or 0)

    async def begin_retry(
        self, old_batch_id: str, new_batch: Mapping[str, Any], asset_ids: Sequence[str]
    ) -> RetryLink:
        data = await self._rpc(
            "begin_batch_retry",
            {
                "p_old_batch": old_batch_id,
                "p_new_batch": dict(new_batch),
                "p_asset_ids": list(asset_ids),
            },
            batch_id=old_batch_id,
        )
        rows = rows_to(RetryLink, data)
        if not rows:
            raise StoreError(f"Supabase returned no result for the retry of {old_batch_id}")
        return rows[0]

    async def set_results_state(
        self,
        batch_id: str,
        state: str | None,
        note: str | None = None,
        *,
        check_again_in: timedelta | None = None,
    ) -> int:
        seconds = check_again_in.total_seconds() if check_again_in is not None else None
        args = {"p_batch": batch_id, "p_state": state, "p_note": note, "p_check_again_s": seconds}
        return int(await self._rpc("set_results_state", args, batch_id=batch_id) or 0)

    async def results_states(self, batch_ids: Sequence[str]) -> dict[str, ResultsState]:
        found: dict[str, ResultsState] = {}
        ids = list(dict.fromkeys(batch_ids))
        for start in range(0, len(ids), PAGE_ROWS):  # one answer holds at most db-max-rows
            data = await self._rpc(
                "batch_results_states", {"p_batch_ids": ids[start : start + PAGE_ROWS]}
            )
            found.update((s.batch_id, s) for s in rows_to(ResultsState, data))
        return found

    async def record_poll_run(self, run: PollRun) -> int:
        data = await self._rpc(
            "record_poll_run",
            {
                "p_worker": run.worker_id,
                "p_started_at": run.started_at,
                "p_finished_at": run.finished_at,
                "p_checked": run.checked,
                "p_applied": run.applied,
                "p_failed": run.failed,
                "p_error": run.error,
            },
        )
        return int(data)

    async def recent_poll_runs(self, *, limit: int = 20) -> list[PollRun]:
        async def page(before: Cursor | None, size: int) -> list[PollRun]:
            started, run = before or (None, None)
            params = {"p_limit": size, "p_before_started_at": started, "p_before_id": run}
            return rows_to(PollRun, await self._rpc("recent_poll_runs", params))

        return await read_pages(page, lambda r: (r.started_at, r.id), limit)

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

    # -- jobs and the queue (migration 007) --

    async def create_job(
        self,
        model: str,
        endpoint: str,
        *,
        attempts: int = 2,
        max_cost: float | None = None,
        owner: str | None = None,
        planning: bool = False,
    ) -> str:
        params = {
            "p_model": model,
            "p_endpoint": endpoint,
            "p_attempts": attempts,
            "p_max_cost": max_cost,
            "p_owner": owner,
            "p_planning": planning,
        }
        return str(await self._rpc("create_job", params))

    async def start_job(self, job_id: str) -> bool:
        return bool(await self._rpc("start_job", {"p_job": job_id}))

    async def add_job_batch(
        self,
        job_id: str,
        asset_ids: Sequence[str],
        *,
        attempt: int = 1,
        byte_size: int = 0,
        estimated_tokens: int = 0,
        estimated_cost: float | None = None,
    ) -> int:
        pages = asset_id_pages(asset_ids)
        params = {
            "p_job": job_id,
            "p_attempt": attempt,
            "p_request_count": len(asset_ids),
            "p_bytes": byte_size,
            "p_tokens": estimated_tokens,
            "p_cost": estimated_cost,
            "p_asset_ids": pages[0],
            "p_complete": len(pages) == 1,
        }
        batch_id = int(await self._rpc("add_job_batch", params))
        for number, page in enumerate(pages[1:], start=2):
            more = {
                "p_job_batch": batch_id,
                "p_asset_ids": page,
                "p_complete": number == len(pages),
            }
            await self._rpc("extend_job_batch", more)
        return batch_id

    async def claim_job_batch(
        self, worker_id: str, *, lease: timedelta, default_limits: Mapping[str, int]
    ) -> JobBatch | None:
        params = {"p_worker": worker_id, "p_lease": _seconds(lease), "p_defaults": default_limits}
        rows = _job_batches(await self._rpc("claim_job_batch", params))
        return rows[0] if rows else None

    async def record_job_batch_upload(
        self, job_batch_id: int, worker_id: str, file_id: str, uploaded_at: int
    ) -> bool:
        params = {
            "p_job_batch": job_batch_id,
            "p_worker": worker_id,
            "p_file_id": file_id,
            "p_uploaded_at": uploaded_at,
        }
        return bool(await self._rpc("record_job_batch_upload", params))

    async def record_job_batch_created(
        self, job_batch_id: int, batch: Mapping[str, Any]
    ) -> tuple[int, bool]:
        data = await self._rpc(
            "record_job_batch_created", {"p_job_batch": job_batch_id, "p_batch": dict(batch)}
        )
        row = data[0] if isinstance(data, list) and data else data
        if not isinstance(row, Mapping):
            raise StoreError(f"Supabase returned no result for job batch {job_batch_id}")
        return int(row["moved"] or 0), bool(row["cancelled"])

    async def record_job_batch_refused(
        self, job_batch_id: int, note: str, *, retry_in: timedelta
    ) -> bool:
        params = {
            "p_job_batch": job_batch_id,
            "p_note": note,
            "p_retry_in_s": retry_in.total_seconds(),
        }
        return bool(await self._rpc("record_job_batch_refused", params))

    async def split_job_batch(self, job_batch_id: int, parts: Sequence[JobBatchPart]) -> int:
        payload = [job_batch_part(p) for p in parts]
        params = {"p_job_batch": job_batch_id, "p_parts": payload}
        return int(await self._rpc("split_job_batch", params) or 0)

    async def ended_job_batches(self) -> list[EndedJobBatch]:
        async def page(after: Cursor | None, size: int) -> list[EndedJobBatch]:
            params = {"p_limit": size, "p_after_id": (after or (None,))[0]}
            return rows_to(EndedJobBatch, await self._rpc("ended_job_batches", params))

        return await read_pages(page, lambda b: (b.id,), ALL_ROWS)

    async def finish_job_batch(
        self,
        job_batch_id: int,
        *,
        actual_cost: float | None,
        retry_ids: Sequence[str] = (),
        retry_bytes: int = 0,
        retry_tokens: int = 0,
        retry_cost: float | None = None,
    ) -> int | None:
        params = {
            "p_job_batch": job_batch_id,
            "p_actual_cost": actual_cost,
            "p_retry_ids": list(retry_ids),
            "p_retry_bytes": retry_bytes,
            "p_retry_tokens": retry_tokens,
            "p_retry_cost": retry_cost,
        }
        data = await self._rpc("finish_job_batch", params)
        return None if data is None else int(data)

    async def set_model_limit(self, model: str, limit: int, *, source: str = "configured") -> None:
        params = {"p_model": model, "p_limit": limit, "p_source": source}
        await self._rpc("set_model_limit", params)

    async def clear_model_limit(self, model: str) -> bool:
        return bool(await self._rpc("clear_model_limit", {"p_model": model}))

    async def model_limits(self) -> list[ModelLimit]:
        async def page(after: Cursor | None, size: int) -> list[ModelLimit]:
            params = {"p_limit": size, "p_after_model": (after or (None,))[0]}
            return rows_to(ModelLimit, await self._rpc("model_limits", params))

        return await read_pages(page, lambda m: (m.model,), ALL_ROWS)

    async def job_summaries(self, *, limit: int = 10_000) -> list[JobSummary]:
        async def page(before: Cursor | None, size: int) -> list[JobSummary]:
            created, job = before or (None, None)
            params = {"p_limit": size, "p_before_created_at": created, "p_before_id": job}
            return rows_to(JobSummary, await self._rpc("job_summaries", params))

        return await read_pages(page, lambda j: (j.created_at, j.id), limit)

    async def get_job(self, job_id: str) -> JobSummary | None:
        rows = rows_to(JobSummary, await self._rpc("get_job", {"p_job": job_id}))
        return rows[0] if rows else None

    async def job_batches(self, job_id: str) -> list[JobBatch]:
        async def page(after: Cursor | None, size: int) -> list[JobBatch]:
            params = {"p_job": job_id, "p_limit": size, "p_after_ordinal": (after or (None,))[0]}
            return _job_batches(await self._rpc("job_batches", params))

        return await read_pages(page, lambda b: (b.ordinal,), ALL_ROWS)

    async def cancel_job(self, job_id: str) -> JobCancel:
        data = await self._rpc("cancel_job", {"p_job": job_id})
        row = data[0] if isinstance(data, list) and data else data
        if not isinstance(row, Mapping):
            raise StoreError(f"Supabase returned no result for cancelling job {job_id}")
        return JobCancel(int(row["dropped"] or 0), tuple(row["running"] or ()))


def _job_batches(data: Any) -> list[JobBatch]:
    return [
        dataclasses.replace(b, asset_ids=tuple(b.asset_ids or ())) for b in rows_to(JobBatch, data)
    ]


__all__ = ["APPLY_CHUNK_ROWS", "FeedOptions", "SupabaseStore", "translate_api_error"]
