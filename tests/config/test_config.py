"""Settings round trip: secrets go to the keyring only, the rest to TOML, env wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from batchmon.config import ConfigError, Settings, load_settings, save_settings


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict, for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.secrets:
            raise PasswordDeleteError(username)
        del self.secrets[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_round_trip_keeps_secrets_out_of_the_file(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(
        openai_api_key="sk-secret-123",
        openai_base_url="http://127.0.0.1:9999/v1",
        database_url="postgresql://u:pw@db/app",
        poll_interval=5.0,
        notify_expired=False,
    )
    save_settings(settings, path)

    text = path.read_text()
    assert "sk-secret-123" not in text
    assert "pw@db" not in text
    assert 'openai_base_url = "http://127.0.0.1:9999/v1"' in text
    assert memory_keyring.secrets[("batchmon", "openai_api_key")] == "sk-secret-123"

    loaded = load_settings(env={}, config_path=path)
    assert loaded == settings


def test_clearing_a_secret_forgets_it(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    path = tmp_path / "config.toml"
    save_settings(Settings(openai_api_key="sk-1"), path)
    save_settings(Settings(openai_api_key=None), path)
    assert ("batchmon", "openai_api_key") not in memory_keyring.secrets
    assert load_settings(env={}, config_path=path).openai_api_key is None


def test_environment_overrides_file_and_keyring(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "config.toml"
    save_settings(Settings(openai_api_key="sk-keyring", poll_interval=3.0), path)
    loaded = load_settings(
        env={"OPENAI_API_KEY": "sk-env", "BATCHMON_POLL_INTERVAL": "7.5"}, config_path=path
    )
    assert loaded.openai_api_key == "sk-env"
    assert loaded.poll_interval == 7.5


def test_modes_and_demo_default(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    path = tmp_path / "none.toml"
    assert load_settings(env={}, config_path=path).is_unconfigured
    pg = load_settings(env={"DATABASE_URL": "postgresql://x/y"}, config_path=path)
    assert pg.database_mode == "postgres"
    sb = load_settings(
        env={"SUPABASE_URL": "https://p.supabase.co", "SUPABASE_ANON_KEY": "k"}, config_path=path
    )
    assert sb.database_mode == "supabase"


def test_bad_values_name_the_setting(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    path = tmp_path / "config.toml"
    path.write_text("poll_interval = 'soon'\n")
    with pytest.raises(ConfigError, match="poll_interval"):
        load_settings(env={}, config_path=path)
    path.write_text("this is not toml = = =\n")
    with pytest.raises(ConfigError, match="cannot read the settings file"):
        load_settings(env={}, config_path=path)


def test_redacted_hides_secrets() -> None:
    shown = Settings(openai_api_key="sk-abc", supabase_password="hunter2").redacted()
    assert "sk-abc" not in repr(shown)
    assert "hunter2" not in repr(shown)
