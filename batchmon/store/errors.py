"""Turn database errors into :class:`StoreError`\\ s a person can act on.

psycopg's exceptions speak SQLSTATEs; the desktop, the worker and the CLI need to know
what to do next (start the server, run the migrations, sign in, follow the newer
batch). Messages never include a password: connection strings are shown redacted.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict

from batchmon.store.protocol import PermissionDenied, RetryRefused, StoreError

RETRY_REFUSED = "BM001"
BATCH_UNKNOWN = "BM002"

MIGRATE_HINT = "run `batchmon db migrate --database-url URL` against this database"


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
    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return StoreError(
        f"cannot connect to the database at {redact(conninfo)}: {reason}. "
        "Check the database URL (host, port, user, password) and that the server is running."
    )


def translate(exc: psycopg.Error, *, batch_id: str | None = None) -> StoreError:
    """Map one psycopg error to the matching StoreError subclass."""
    diag = exc.diag
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    sqlstate = exc.sqlstate or ""
    if sqlstate == RETRY_REFUSED:
        return RetryRefused(batch_id or "?", diag.message_detail or "another batch")
    if isinstance(exc, pgerrors.InsufficientPrivilege):
        return PermissionDenied(
            f"permission denied: {message}. Only the owner of these rows (or a server key) "
            "may do this; sign in as that user."
        )
    if isinstance(exc, pgerrors.UndefinedFunction | pgerrors.UndefinedTable):
        return StoreError(
            f"the batchmon schema is missing or out of date ({message}): {MIGRATE_HINT}"
        )
    if isinstance(exc, psycopg.OperationalError) and not sqlstate:
        return StoreError(
            f"lost the database connection: {message}. It is retried on the next call."
        )
    hint = f" ({diag.message_hint})" if diag.message_hint else ""
    return StoreError(f"database error: {message}{hint}")
