"""Settings round trip: secrets go to the keyring only, the rest to TOML, env wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmon.config import ConfigError, Settings, load_settings, save_settings
from tests.fixtures.keyring import MemoryKeyring


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


def test_job_notice_batches_is_a_whole_number(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "config.toml"
    save_settings(Settings(job_notice_batches=5), path)
    assert load_settings(env={}, config_path=path).job_notice_batches == 5
    for bad in ("'a few'", "2.5", "-1", "true"):
        path.write_text(f"job_notice_batches = {bad}\n")
        with pytest.raises(ConfigError, match="job_notice_batches"):
            load_settings(env={}, config_path=path)


def test_redacted_hides_secrets() -> None:
    shown = Settings(openai_api_key="sk-abc", supabase_password="hunter2").redacted()
    assert "sk-abc" not in repr(shown)
    assert "hunter2" not in repr(shown)


def test_token_limits_come_from_a_table_or_the_environment(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "config.toml"
    save_settings(Settings(token_limits={"gpt-4o": 800_000, "gpt-4.1-mini": 2_000_000}), path)
    assert load_settings(env={}, config_path=path).token_limits == {
        "gpt-4o": 800_000,
        "gpt-4.1-mini": 2_000_000,
    }
    env = {"BATCHMON_TOKEN_LIMITS": "gpt-4o=1_500_000, o3=200000"}
    assert load_settings(env=env, config_path=path).token_limits == {
        "gpt-4o": 1_500_000,
        "o3": 200_000,
    }
    for bad in ("gpt-4o", "gpt-4o=0", "=5", "gpt-4o=many"):
        with pytest.raises(ConfigError, match="token_limits"):
            load_settings(env={"BATCHMON_TOKEN_LIMITS": bad}, config_path=path)


def test_image_size_comes_from_the_file_or_the_environment_as_width_x_height(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "config.toml"
    assert load_settings(env={}, config_path=path).image_size is None
    save_settings(Settings(image_size=(1024, 768)), path)
    assert 'image_size = "1024x768"' in path.read_text()
    assert load_settings(env={}, config_path=path).image_size == (1024, 768)
    env = {"BATCHMON_IMAGE_SIZE": "512x512"}
    assert load_settings(env=env, config_path=path).image_size == (512, 512)
    unknown = {"BATCHMON_IMAGE_SIZE": "Unknown"}  # the word the Tag dialog offers
    assert load_settings(env=unknown, config_path=path).image_size is None
    for bad in ("512", "0x512", "big"):
        with pytest.raises(ConfigError, match=r"image_size.*WIDTHxHEIGHT"):
            load_settings(env={"BATCHMON_IMAGE_SIZE": bad}, config_path=path)
