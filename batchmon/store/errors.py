"""Turn database errors into :class:`StoreError`\\ s a person can act on.

psycopg's exceptions and PostgREST's error JSON both speak SQLSTATEs; the desktop, the
worker and the CLI need to know what to do next (start the server, run the migrations,
sign in, follow the newer batch). :func:`from_sqlstate` is the one table both stores
use. Messages never include a password: connection strings are shown redacted.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from batchmon.store.protocol import PermissionDenied, RetryRefused, StoreError

RETRY_REFUSED = "BM001"
BATCH_UNKNOWN = "BM002"

MIGRATE_HINT = (
    "run `batchmon db migrate --database-url URL` against this database "
    "(on Supabase: the project's direct connection URL)"
)
PERMISSION_DENIED = "42501"
#: An undefined function or table (PostgreSQL), or a function PostgREST cannot find.
SCHEMA_MISSING = frozenset({"42883", "42P01", "PGRST202"})
#: The function the schema check looks for: the newest part of the SQL API's core.
SCHEMA_PROBE = b"select to_regprocedure('public.apply_staged_results(text)') is not null"


def redact(conninfo: str) -> str:
    """Where a connection string points (user, host, port, database), without secrets."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "an unparseable database URL"
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    dbname = parts.get("dbname") or ""
    return f"{user}{host}{port}/{dbname}"


def connect_error(conninfo: str, exc: BaseException) -> StoreError:
    """An error for a database URL that is malformed, unreachable, or refused the login."""
    if isinstance(exc, psycopg.ProgrammingError):
        # libpq's parse errors quote pieces of the string, which may hold a password.
        return StoreError(
            "the database URL is not valid: expected "
            "postgresql://user:password@host:5432/dbname (or libpq key=value pairs)"
        )
    return StoreError(
        f"cannot connect to the database at {redact(conninfo)}: {driver_reason(exc)} "
        "Check the database URL (host, port, user, password) and that the server is running."
    )


def driver_reason(exc: BaseException) -> str:
    """libpq's reason as sentences on one line, without the prefix naming host and port.

    libpq writes ``connection to server at "h", port 1 failed: Connection refused``, then
    a tab-indented hint line ending in ``?``: read as "Connection refused. Is ...?".
    """
    lines = [" ".join(line.split()) for line in str(exc).splitlines() if line.strip()]
    lines = [line.rpartition(" failed: ")[2] or line for line in lines]
    if not lines:
        return f"{type(exc).__name__}."
    return " ".join(line if line.endswith((".", "?", "!")) else f"{line}." for line in lines)


def from_sqlstate(
    sqlstate: str,
    message: str,
    *,
    detail: str | None = None,
    hint: str | None = None,
    batch_id: str | None = None,
    label: str = "database error",
) -> StoreError:
    """The StoreError for one SQLSTATE (or PostgREST code), from either transport."""
    if sqlstate == RETRY_REFUSED:
        return RetryRefused(batch_id or "?", detail or "another batch")
    if sqlstate == PERMISSION_DENIED:
        return PermissionDenied(
            f"permission denied: {message}. Only the owner of these rows (or a server key) "
            "may do this; sign in as that user."
        )
    if sqlstate in SCHEMA_MISSING:
        return StoreError(
            f"the batchmon schema is missing or out of date ({message}): {MIGRATE_HINT}"
        )
    return StoreError(f"{label}: {message}{f' ({hint})' if hint else ''}")


def translate(exc: psycopg.Error, *, batch_id: str | None = None) -> StoreError:
    """Map one psycopg error to the matching StoreError subclass."""
    diag = exc.diag
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
        return StoreError(
            f"lost the database connection: {message}. It is retried on the next call."
        )
    return from_sqlstate(
        exc.sqlstate or "",
        message,
        detail=diag.message_detail,
        hint=diag.message_hint,
        batch_id=batch_id,
    )


async def require_migrated(conn: psycopg.AsyncConnection[Any], conninfo: str) -> None:
    """Raise a StoreError saying to migrate when the batchmon schema is not installed."""
    cur = await conn.execute(SCHEMA_PROBE)
    row = await cur.fetchone()
    if row is None or not row[0]:
        raise StoreError(
            f"the batchmon schema is not installed in {redact(conninfo)}: {MIGRATE_HINT}"
        )
