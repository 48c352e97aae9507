"""Open the store and the API client from settings (and close them after).

One place decides which database and which API endpoint batchmon talks to, for the CLI,
the webhook server and the desktop alike. Flags beat the environment, which beats the
settings file; with no database configured, the embedded PostgreSQL in the data dir is
started here and stopped when the store closes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from batchmon.config import ConfigError, Settings, load_settings
from batchmon.openai_batches import BatchClient
from batchmon.store import Store


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings with this command's flags applied on top."""
    settings = load_settings()
    changes: dict[str, object] = {}
    if getattr(args, "database_url", None):
        changes["database_url"] = args.database_url
        # An explicit database URL means direct Postgres, even if Supabase is configured.
        changes["supabase_url"] = None
    if getattr(args, "base_url", None):
        changes["openai_base_url"] = args.base_url
    if getattr(args, "api_key", None):
        changes["openai_api_key"] = args.api_key
    return replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OpenedStore:
    """The store, plus its Postgres URL when there is one (pg_cron, asset selection)."""

    store: Store
    database_url: str | None


SIGN_IN_HINT_ENV = (
    "set BATCHMON_SUPABASE_EMAIL and BATCHMON_SUPABASE_PASSWORD, "
    "or pass --database-url for direct Postgres"
)
"""What a command-line user does when Supabase has no session yet."""


@asynccontextmanager
async def open_store(
    settings: Settings, *, sign_in_hint: str = SIGN_IN_HINT_ENV
) -> AsyncIterator[OpenedStore]:
    """The configured store; an embedded server started here is stopped afterwards.

    ``sign_in_hint`` finishes the error shown when Supabase has no session and no
    credentials: the desktop points at its Settings dialog, the CLI at the environment.
    """
    from batchmon.store.postgres import PostgresStore

    mode = settings.database_mode
    if mode == "supabase":
        async with _supabase_store(settings, sign_in_hint) as supabase:
            yield OpenedStore(supabase, None)
        return
    embedded = None
    url = settings.database_url or ""
    if mode != "postgres":
        from batchmon.store.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.resolved_data_dir() / "postgres")
        url = await asyncio.to_thread(embedded.start)
    try:
        store = await PostgresStore.open(url)
        try:
            yield OpenedStore(store, url)
        finally:
            await store.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def _supabase_store(settings: Settings, sign_in_hint: str) -> AsyncIterator[Store]:
    from batchmon.store.supabase import SupabaseStore

    supabase = await SupabaseStore.connect(
        settings.supabase_url or "", settings.supabase_anon_key or ""
    )
    try:
        if await supabase.user_id() is None:
            if not (settings.supabase_email and settings.supabase_password):
                raise ConfigError(f"Supabase needs a sign-in: {sign_in_hint}")
            await supabase.sign_in(settings.supabase_email, settings.supabase_password)
        yield supabase
    finally:
        await supabase.close()


@asynccontextmanager
async def open_client(settings: Settings) -> AsyncIterator[BatchClient]:
    """The OpenAI batch client; a missing key is a configuration error, not a crash."""
    if not settings.openai_api_key:
        raise ConfigError(
            "no OpenAI API key: set OPENAI_API_KEY (or the key in batchmon's settings); "
            "for the simulator any key works, e.g. OPENAI_API_KEY=sk-sim"
        )
    client = BatchClient(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        organization=settings.openai_organization,
        project=settings.openai_project,
    )
    try:
        yield client
    finally:
        await client.aclose()
