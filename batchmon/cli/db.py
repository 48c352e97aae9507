"""``db migrate``: install or upgrade the schema and SQL API in the configured database."""

from __future__ import annotations

import argparse
import asyncio

from batchmon.cli.exit_codes import EXIT_OK
from batchmon.config import ConfigError
from batchmon.wiring import settings_from


async def cmd_db_migrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from batchmon.store.migrate import migrate

    if settings.database_mode == "postgres":
        applied = await migrate(settings.database_url or "")
        where = "the database"
    elif settings.database_mode == "supabase":
        raise ConfigError(
            "migrations need a direct Postgres connection: pass --database-url "
            "(Supabase: the project's direct connection string)"
        )
    else:
        from batchmon.store.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.resolved_data_dir() / "postgres", migrate=False)
        url = await asyncio.to_thread(embedded.start)
        try:
            applied = await migrate(url)
        finally:
            await asyncio.to_thread(embedded.stop)
        where = f"the embedded database in {embedded.data_dir}"
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print(f"{where} is up to date")
    return EXIT_OK
