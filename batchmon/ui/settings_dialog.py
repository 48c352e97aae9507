"""Where a person tells batchmon which OpenAI account and which database to watch.

Secrets go to the OS keyring and the rest to the TOML file, both through
:mod:`batchmon.config`, so the dialog, the CLI and the environment agree on one set of
settings. Each "Test connection" button answers with something a person can act on
(the key was rejected, the host is unreachable, row-level security refused), never a
stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from batchmon.config import ConfigError, Settings, save_settings
from batchmon.core.tokens import format_image_size, parse_optional_image_size

log = logging.getLogger(__name__)

CONNECTION_TIMEOUT = 10.0
_PROBE_BATCH_ID = "batch_batchmon_connection_test"


class ConnectionChecks(Protocol):
    """What the test buttons run; each returns a success sentence or raises with advice."""

    async def check_openai(self, settings: Settings) -> str: ...

    async def check_database(self, settings: Settings) -> str: ...


class CheckFailed(Exception):
    """A connection test failed; the message says what to change."""


class LiveChecks:
    """Real connection tests against the configured services."""

    async def check_openai(self, settings: Settings) -> str:
        from batchmon.openai_batches import (
            ApiUnreachable,
            AuthenticationFailed,
            BatchApiError,
            BatchClient,
            BatchNotFound,
        )

        if not settings.openai_api_key:
            raise CheckFailed("Enter an OpenAI API key first (it starts with sk-).")
        client = BatchClient(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            organization=settings.openai_organization,
            project=settings.openai_project,
            max_retries=0,
            timeout=CONNECTION_TIMEOUT,
        )
        try:
            await client.retrieve(_PROBE_BATCH_ID)
        except BatchNotFound:
            pass  # the key was accepted: it may look up batches, this one just doesn't exist
        except AuthenticationFailed as exc:
            raise CheckFailed(f"The API key was rejected. {exc.hint}") from None
        except ApiUnreachable as exc:
            where = settings.openai_base_url or "api.openai.com"
            raise CheckFailed(f"Could not reach {where}. {exc.hint}") from None
        except BatchApiError as exc:
            raise CheckFailed(f"{exc.message}. {exc.hint}") from None
        finally:
            await client.aclose()
        return f"Connected to {client.base_url}: the key may use the Batch API."

    async def check_database(self, settings: Settings) -> str:
        mode = settings.database_mode
        if mode == "embedded":
            return (
                "The embedded database needs no connection: batchmon starts it in "
                f"{settings.resolved_data_dir()}."
            )
        if mode == "postgres":
            return await self._check_postgres(settings.database_url or "")
        return await self._check_supabase(settings)

    async def _check_postgres(self, url: str) -> str:
        import psycopg

        if not url.startswith(("postgres://", "postgresql://")):
            raise CheckFailed("A Postgres URL starts with postgresql:// (or postgres://).")
        try:
            conn = await psycopg.AsyncConnection.connect(
                url, connect_timeout=int(CONNECTION_TIMEOUT)
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckFailed(
                f"Could not connect: {first}. Check host, port, user and password."
            ) from None
        from batchmon.store.errors import require_migrated
        from batchmon.store.protocol import StoreError

        async with conn:
            try:
                await require_migrated(conn, url)  # the same check PostgresStore.open makes
            except StoreError as exc:
                raise CheckFailed(f"Connected, but {exc}.") from None
        return "Connected to Postgres; batchmon's tables are in place."

    async def _check_supabase(self, settings: Settings) -> str:
        from supabase_auth import AsyncMemoryStorage

        from batchmon.store.protocol import PermissionDenied, StoreError
        from batchmon.store.supabase import SupabaseStore

        url = settings.supabase_url or ""
        if not url.startswith(("https://", "http://")):
            raise CheckFailed("The Supabase URL looks like https://<project>.supabase.co.")
        if not settings.supabase_email or not settings.supabase_password:
            raise CheckFailed("Enter the email and password you sign in to the app with.")
        try:
            store = await SupabaseStore.connect(
                url, settings.supabase_anon_key or "", storage=AsyncMemoryStorage()
            )
        except (StoreError, ValueError) as exc:
            raise CheckFailed(f"{exc}. Check the project URL and the anon key.") from None
        except Exception as exc:  # supabase-py surfaces transport errors untyped
            raise CheckFailed(
                f"Could not reach {url} ({type(exc).__name__}). Check the URL and anon key."
            ) from None
        try:
            await store.sign_in(settings.supabase_email, settings.supabase_password)
            await store.pending_batches()
        except PermissionDenied as exc:
            raise CheckFailed(
                f"{exc}. Check the email and password, and that row-level security lets "
                "this user read its batches (docs/database.md)."
            ) from None
        except StoreError as exc:
            raise CheckFailed(f"{exc}. Run the migrations on the project.") from None
        finally:
            await store.close()
        return "Signed in to Supabase; this user's batches are readable."


def _line_edit(text: str | None, placeholder: str = "", *, secret: bool = False) -> QLineEdit:
    edit = QLineEdit(text or "")
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    if secret:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


def _text(edit: QLineEdit) -> str | None:
    return edit.text().strip() or None


def _image_size(edit: QLineEdit) -> tuple[tuple[int, int] | None, str | None]:
    """The size typed (None when empty, ``unknown`` or malformed) and what is wrong, if anything."""
    try:
        return parse_optional_image_size(edit.text()), None
    except ValueError as exc:
        return None, str(exc)


class SettingsDialog(QDialog):
    """Edit, test and save :class:`Settings`; emits ``saved`` with what was written."""

    saved = Signal(object)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        config_path: Path | None = None,
        checks: ConnectionChecks | None = None,
        use_keyring: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("batchmon settings")
        self.setMinimumWidth(560)
        self._original = settings
        self._config_path = config_path
        self._checks: ConnectionChecks = checks or LiveChecks()
        self._use_keyring = use_keyring
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_check: asyncio.Task[None] | None = None

        tabs = QTabWidget()
        tabs.addTab(self._openai_tab(settings), "OpenAI")
        tabs.addTab(self._database_tab(settings), "Database")
        tabs.addTab(self._monitoring_tab(settings), "Monitoring")

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #DC2626;")
        self.error_label.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)

        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        note = QLabel(
            "Secrets (API key, database URL, password) are kept in the system keyring; "
            "everything else in the settings file."
        )
        note.setWordWrap(True)
        note.setEnabled(False)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    # -- tabs ---------------------------------------------------------------------------

    def _openai_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.api_key = _line_edit(s.openai_api_key, "sk-...", secret=True)
        self.base_url = _line_edit(s.openai_base_url, "https://api.openai.com/v1 (default)")
        self.organization = _line_edit(s.openai_organization, "optional: org-...")
        self.project = _line_edit(s.openai_project, "optional: proj_...")
        form.addRow("API key", self.api_key)
        form.addRow("Base URL", self.base_url)
        form.addRow("Organization", self.organization)
        form.addRow("Project", self.project)
        self.test_openai_button = QPushButton("Test connection")
        self.openai_result = QLabel()
        self.openai_result.setWordWrap(True)
        self.test_openai_button.clicked.connect(self._test_openai)
        form.addRow(self.test_openai_button, self.openai_result)
        return page

    def _database_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.mode_embedded = QRadioButton("Embedded (a private PostgreSQL in the data folder)")
        self.mode_postgres = QRadioButton("PostgreSQL URL (self-hosted, or Supabase direct)")
        self.mode_supabase = QRadioButton("Supabase project, signed in as a user (RLS applies)")
        group = QButtonGroup(page)
        self.mode_stack = QStackedWidget()
        for index, button in enumerate(
            (self.mode_embedded, self.mode_postgres, self.mode_supabase)
        ):
            group.addButton(button, index)
            layout.addWidget(button)
        group.idClicked.connect(self.mode_stack.setCurrentIndex)

        embedded = QLabel(f"Data folder: {s.resolved_data_dir()}")
        embedded.setWordWrap(True)
        embedded.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mode_stack.addWidget(embedded)

        pg = QWidget()
        pg_form = QFormLayout(pg)
        self.database_url = _line_edit(
            s.database_url, "postgresql://user:password@host:5432/db", secret=True
        )
        pg_form.addRow("Database URL", self.database_url)
        self.mode_stack.addWidget(pg)

        sb = QWidget()
        sb_form = QFormLayout(sb)
        self.supabase_url = _line_edit(s.supabase_url, "https://<project>.supabase.co")
        self.supabase_anon_key = _line_edit(s.supabase_anon_key, "anon public key")
        self.supabase_email = _line_edit(s.supabase_email, "you@example.com")
        self.supabase_password = _line_edit(s.supabase_password, "password", secret=True)
        sb_form.addRow("Project URL", self.supabase_url)
        sb_form.addRow("Anon key", self.supabase_anon_key)
        sb_form.addRow("Email", self.supabase_email)
        sb_form.addRow("Password", self.supabase_password)
        self.mode_stack.addWidget(sb)

        layout.addWidget(self.mode_stack)
        row = QHBoxLayout()
        self.test_database_button = QPushButton("Test connection")
        self.test_database_button.clicked.connect(self._test_database)
        self.database_result = QLabel()
        self.database_result.setWordWrap(True)
        row.addWidget(self.test_database_button)
        row.addWidget(self.database_result, 1)
        layout.addLayout(row)
        layout.addStretch(1)

        mode = {"embedded": 0, "postgres": 1, "supabase": 2}[s.database_mode]
        group.button(mode).setChecked(True)
        self.mode_stack.setCurrentIndex(mode)
        return page

    def _monitoring_tab(self, s: Settings) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        form = QFormLayout()
        self.poll_interval = QDoubleSpinBox()
        self.poll_interval.setRange(0.5, 600.0)
        self.poll_interval.setDecimals(1)
        self.poll_interval.setSuffix(" s")
        self.poll_interval.setValue(s.poll_interval)
        self.poll_limit = QDoubleSpinBox()
        self.poll_limit.setRange(1.0, 24 * 60.0)
        self.poll_limit.setDecimals(0)
        self.poll_limit.setSuffix(" min")
        self.poll_limit.setValue(s.poll_limit / 60.0)
        form.addRow("Poll every", self.poll_interval)
        form.addRow("Stop polling after", self.poll_limit)
        layout.addLayout(form)
        box = QGroupBox("Notify me when a batch")
        box_layout = QVBoxLayout(box)
        self.notify_completed = QCheckBox("completes")
        self.notify_failed = QCheckBox("fails")
        self.notify_expired = QCheckBox("expires")
        self.notify_cancelled = QCheckBox("is cancelled")
        for check, value in (
            (self.notify_completed, s.notify_completed),
            (self.notify_failed, s.notify_failed),
            (self.notify_expired, s.notify_expired),
            (self.notify_cancelled, s.notify_cancelled),
        ):
            check.setChecked(value)
            box_layout.addWidget(check)
        layout.addWidget(box)
        jobs = QFormLayout()
        self.job_notice_batches = QSpinBox()
        self.job_notice_batches.setRange(0, 10_000)
        self.job_notice_batches.setSuffix(" batches")
        self.job_notice_batches.setValue(s.job_notice_batches)
        self.job_notice_batches.setToolTip(
            "A job with more batches than this gets one notification when it ends, "
            "instead of one per batch"
        )
        jobs.addRow("One notice per job above", self.job_notice_batches)
        self.image_size = _line_edit(
            format_image_size(s.image_size) if s.image_size else None,
            "unknown: each image counted at the costliest",
        )
        self.image_size.setToolTip(
            "The usual WIDTHxHEIGHT of the assets' images, e.g. 1024x1024: "
            "jobs are planned at it (batchmon submit --image-size overrides it)"
        )
        jobs.addRow("Typical image size", self.image_size)
        layout.addLayout(jobs)
        layout.addStretch(1)
        return page

    # -- reading the form ---------------------------------------------------------------

    def current_settings(self) -> Settings:
        """The settings as currently entered (not yet saved)."""
        mode = self.mode_stack.currentIndex()
        return replace(
            self._original,
            openai_api_key=_text(self.api_key),
            openai_base_url=_text(self.base_url),
            openai_organization=_text(self.organization),
            openai_project=_text(self.project),
            database_url=_text(self.database_url) if mode == 1 else None,
            supabase_url=_text(self.supabase_url) if mode == 2 else None,
            supabase_anon_key=_text(self.supabase_anon_key) if mode == 2 else None,
            supabase_email=_text(self.supabase_email) if mode == 2 else None,
            supabase_password=_text(self.supabase_password) if mode == 2 else None,
            poll_interval=float(self.poll_interval.value()),
            poll_limit=float(self.poll_limit.value()) * 60.0,
            notify_completed=self.notify_completed.isChecked(),
            notify_failed=self.notify_failed.isChecked(),
            notify_expired=self.notify_expired.isChecked(),
            notify_cancelled=self.notify_cancelled.isChecked(),
            job_notice_batches=self.job_notice_batches.value(),
            image_size=_image_size(self.image_size)[0],
        )

    def problems(self, settings: Settings) -> list[str]:
        """What must be fixed before saving (empty when the form is consistent)."""
        out = []
        mode = self.mode_stack.currentIndex()
        if mode == 1 and not (settings.database_url or "").startswith(
            ("postgres://", "postgresql://")
        ):
            out.append("Enter a database URL starting with postgresql://.")
        if mode == 2:
            if not (settings.supabase_url or "").startswith(("https://", "http://")):
                out.append("Enter the Supabase project URL (https://<project>.supabase.co).")
            if not settings.supabase_anon_key:
                out.append("Enter the Supabase anon key (Project settings → API).")
        if settings.openai_base_url and not settings.openai_base_url.startswith(
            ("https://", "http://")
        ):
            out.append("The OpenAI base URL must start with https:// (or http:// locally).")
        size_problem = _image_size(self.image_size)[1]
        if size_problem:
            out.append(f"The typical image size {size_problem} (or leave it empty: unknown).")
        return out

    def save(self) -> None:
        """Validate, write TOML + keyring, emit ``saved`` and close; or say what is wrong."""
        settings = self.current_settings()
        problems = self.problems(settings)
        if not problems:
            try:
                save_settings(settings, self._config_path, use_keyring=self._use_keyring)
            except (OSError, ConfigError) as exc:
                problems = [f"Could not save the settings: {exc}"]
            except Exception as exc:  # keyring backends raise their own errors
                log.warning("saving secrets to the keyring failed: %s", type(exc).__name__)
                problems = [
                    "Could not store the secrets in the system keyring "
                    f"({type(exc).__name__}). Unlock the keyring, or set them as "
                    "environment variables (OPENAI_API_KEY, BATCHMON_DATABASE_URL)."
                ]
        if problems:
            self.error_label.setText("\n".join(problems))
            self.error_label.show()
            return
        self.error_label.hide()
        self.saved.emit(settings)
        self.accept()

    # -- connection tests ---------------------------------------------------------------

    def _test_openai(self) -> None:
        self._run_check(self._checks.check_openai, self.test_openai_button, self.openai_result)

    def _test_database(self) -> None:
        self._run_check(
            self._checks.check_database, self.test_database_button, self.database_result
        )

    def _run_check(
        self, check: Callable[[Settings], Awaitable[str]], button: QPushButton, label: QLabel
    ) -> None:
        settings = self.current_settings()
        button.setEnabled(False)
        label.setStyleSheet("")
        label.setText("Testing…")

        async def run() -> None:
            try:
                message = await asyncio.wait_for(check(settings), CONNECTION_TIMEOUT * 2)
                label.setStyleSheet("color: #16A34A;")
                label.setText(f"✓ {message}")
            except CheckFailed as exc:
                label.setStyleSheet("color: #DC2626;")
                label.setText(f"✗ {exc}")
            except TimeoutError:
                label.setStyleSheet("color: #DC2626;")
                label.setText("✗ No answer in time: check the address and your network.")
            except Exception as exc:
                log.exception("connection test failed unexpectedly")
                label.setStyleSheet("color: #DC2626;")
                label.setText(f"✗ Unexpected error: {type(exc).__name__}: {exc}")
            finally:
                button.setEnabled(True)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.last_check = task
