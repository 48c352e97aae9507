"""The settings dialog: a round trip through TOML and the keyring, and honest tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmon.config import KEYRING_SERVICE, Settings, load_settings
from batchmon.ui.settings_dialog import LiveChecks, SettingsDialog
from tests.fixtures.keyring import MemoryKeyring
from tests.fixtures.sim import LiveSim


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"


@pytest.fixture
def dialog(qtbot: QtBot, config: Path, memory_keyring: MemoryKeyring) -> SettingsDialog:
    """A new dialog saving to ``config``, its secrets to the in-memory keyring."""
    opened = SettingsDialog(Settings(), config_path=config)
    qtbot.addWidget(opened)
    return opened


def test_settings_round_trip_keeps_secrets_in_the_keyring(
    qtbot: QtBot, config: Path, dialog: SettingsDialog, memory_keyring: MemoryKeyring
) -> None:
    dialog.api_key.setText("sk-secret-123")
    dialog.base_url.setText("http://127.0.0.1:8765/v1")
    dialog.project.setText("proj_abc")
    dialog.mode_postgres.click()
    dialog.database_url.setText("postgresql://me:pw@db.example.test:5432/app")
    dialog.poll_interval.setValue(5.0)
    dialog.poll_limit.setValue(30)
    dialog.notify_completed.setChecked(False)
    with qtbot.waitSignal(dialog.saved) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    loaded = load_settings(env={}, config_path=config)
    assert loaded == saved.args[0]
    assert loaded.openai_api_key == "sk-secret-123"
    assert loaded.openai_project == "proj_abc"
    assert loaded.database_mode == "postgres"
    assert loaded.poll_interval == 5.0 and loaded.poll_limit == 1800.0
    assert loaded.notify_completed is False and loaded.notify_failed is True
    text = config.read_text()
    assert "sk-secret-123" not in text and "pw@" not in text, "secrets stay out of the file"
    assert memory_keyring.secrets[(KEYRING_SERVICE, "openai_api_key")] == "sk-secret-123"

    # Reopen from what was saved; switching back to embedded forgets the database URL.
    again = SettingsDialog(loaded, config_path=config)
    qtbot.addWidget(again)
    assert again.api_key.text() == "sk-secret-123" and again.mode_postgres.isChecked()
    again.mode_embedded.click()
    qtbot.mouseClick(again.save_button, Qt.MouseButton.LeftButton)
    assert load_settings(env={}, config_path=config).database_mode == "embedded"
    assert (KEYRING_SERVICE, "database_url") not in memory_keyring.secrets


def test_save_refuses_an_inconsistent_form(
    qtbot: QtBot, config: Path, dialog: SettingsDialog
) -> None:
    dialog.mode_supabase.click()
    dialog.supabase_url.setText("not a url")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not config.exists()
    assert "supabase.co" in dialog.error_label.text()
    assert "anon key" in dialog.error_label.text()


def test_the_typical_image_size_is_typed_checked_saved_and_shown_again(
    qtbot: QtBot, config: Path, dialog: SettingsDialog
) -> None:
    qtbot.keyClicks(dialog.image_size, "1024 by 768")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not config.exists()
    assert "image size wants WIDTHxHEIGHT" in dialog.error_label.text()

    dialog.image_size.clear()
    qtbot.keyClicks(dialog.image_size, "1024x768")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    loaded = load_settings(env={}, config_path=config)
    assert loaded.image_size == (1024, 768)
    again = SettingsDialog(loaded, config_path=config)
    qtbot.addWidget(again)
    assert again.image_size.text() == "1024x768"
    again.image_size.clear()  # empty: unknown again
    qtbot.mouseClick(again.save_button, Qt.MouseButton.LeftButton)
    assert load_settings(env={}, config_path=config).image_size is None


async def test_openai_test_button_tells_a_bad_key_from_a_good_one(
    qtbot: QtBot, live_sim: LiveSim
) -> None:
    dialog = SettingsDialog(Settings(), checks=LiveChecks(), use_keyring=False)
    qtbot.addWidget(dialog)
    dialog.base_url.setText(live_sim.base_url)
    dialog.api_key.setText("sk-wrong")
    qtbot.mouseClick(dialog.test_openai_button, Qt.MouseButton.LeftButton)
    assert dialog.last_check is not None
    await dialog.last_check
    assert "rejected" in dialog.openai_result.text()

    dialog.api_key.setText(live_sim.api_key)
    qtbot.mouseClick(dialog.test_openai_button, Qt.MouseButton.LeftButton)
    await dialog.last_check
    assert dialog.openai_result.text().startswith("✓"), dialog.openai_result.text()


async def test_database_test_button_reports_reachable_and_unreachable(
    qtbot: QtBot, database_url: str
) -> None:
    dialog = SettingsDialog(Settings(), use_keyring=False)
    qtbot.addWidget(dialog)
    dialog.mode_postgres.click()
    dialog.database_url.setText(database_url)
    qtbot.mouseClick(dialog.test_database_button, Qt.MouseButton.LeftButton)
    assert dialog.last_check is not None
    await dialog.last_check
    assert dialog.database_result.text().startswith("✓"), dialog.database_result.text()

    dialog.database_url.setText("postgresql://nobody@127.0.0.1:1/none")
    qtbot.mouseClick(dialog.test_database_button, Qt.MouseButton.LeftButton)
    await dialog.last_check
    assert "Could not connect" in dialog.database_result.text()
