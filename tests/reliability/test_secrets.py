"""Secrets stay secret, the desktop refuses a key that bypasses RLS, servers bind loopback."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from batchmon.cli import build_parser
from batchmon.config import SECRET_FIELDS, Settings, save_settings
from batchmon.store.protocol import StoreError
from batchmon.store.supabase import SupabaseStore
from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env, spawn_batchmon
from tests.helpers.supabase import StoreFactory
from tests.reliability.helpers import submit_batches
from tests.supabase_gateway import Gateway

PROCESS_TIMEOUT = 120.0
DB_PASSWORD = "pg-secret-5f1e"


async def _run(*argv: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await spawn_batchmon(*argv, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace") + err.decode(errors="replace")


async def test_a_full_worker_run_at_debug_never_logs_the_api_key(
    live_sim: LiveSim, database_url: str, tmp_path: Path
) -> None:
    from batchmon.openai_batches import BatchClient
    from batchmon.store.postgres import PostgresStore

    async with BatchClient(api_key=live_sim.api_key, base_url=live_sim.base_url) as client:
        store = await PostgresStore.open(database_url)
        try:
            await submit_batches(
                client, store, database_url, 2, 5, metadata={"sim_fail_fraction": "0.5"}
            )
        finally:
            await store.close()
    live_sim.simulator.advance(3600)
    env = cli_env(tmp_path, live_sim)
    code, output = await _run(
        "worker", "--once", "-vv", "--min-age", "0s", "--database-url", database_url, env=env
    )
    assert code == 0, output
    assert "DEBUG" in output  # the run really logged at DEBUG
    assert live_sim.api_key not in output
    code, output = await _run("status", "-vv", "--database-url", database_url, env=env)
    assert code == 0, output
    assert live_sim.api_key not in output


async def test_an_unreachable_database_url_with_a_password_is_reported_without_it(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path)
    env["OPENAI_API_KEY"] = "sk-test-never-shown-7c2d"
    url = f"postgresql://batchmon:{DB_PASSWORD}@127.0.0.1:1/app"
    code, output = await _run("status", "-vv", "--database-url", url, env=env)
    assert code != 0
    assert DB_PASSWORD not in output
    assert "sk-test-never-shown-7c2d" not in output
    assert "Traceback" not in output


def test_saving_settings_writes_no_secret_to_the_config_file(tmp_path: Path) -> None:
    secrets = {
        "openai_api_key": "sk-proj-savedsecret-1",
        "database_url": f"postgresql://u:{DB_PASSWORD}@db.example.test/app",
        "supabase_password": "hunter2-but-longer",
    }
    assert set(secrets) == set(SECRET_FIELDS)
    settings = Settings(
        openai_api_key=secrets["openai_api_key"],
        database_url=secrets["database_url"],
        supabase_password=secrets["supabase_password"],
        supabase_url="https://x.supabase.co",
        supabase_anon_key="anon",
    )
    path = save_settings(settings, tmp_path / "config.toml", use_keyring=False)
    text = path.read_text(encoding="utf-8")
    for secret in secrets.values():
        assert secret not in text
    assert DB_PASSWORD not in text
    assert "https://x.supabase.co" in text
    for value in settings.redacted().values():
        assert value not in secrets.values()


async def test_the_desktop_refuses_a_service_role_key_and_says_why(
    gateway: Gateway, open_store: StoreFactory
) -> None:
    with pytest.raises(StoreError, match="service_role") as refused:
        await SupabaseStore.connect(gateway.url, gateway.service_role_key)
    assert "row-level security" in str(refused.value)
    assert gateway.service_role_key not in str(refused.value)
    forced = await open_store(key=gateway.service_role_key, allow_service_role=True)
    assert isinstance(forced, SupabaseStore)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_every_command_that_serves_binds_loopback_by_default() -> None:
    commands = _subparsers(build_parser())
    serving = {
        name: sub
        for name, sub in commands.items()
        if any(a.dest in ("host", "bind") for a in sub._actions)
    }
    assert "sim" in serving
    for name, sub in serving.items():
        defaults = {a.dest: a.default for a in sub._actions if a.dest in ("host", "bind")}
        assert set(defaults.values()) <= {"127.0.0.1", "::1", "localhost"}, (name, defaults)
    assert build_parser().parse_args(["sim"]).host == "127.0.0.1"


def test_a_webhook_receiver_command_exists_and_binds_loopback() -> None:
    commands = _subparsers(build_parser())
    webhook = [name for name in commands if "webhook" in name]
    assert webhook, "no `batchmon webhook` command to check"
    for name in webhook:
        hosts = [a.default for a in commands[name]._actions if a.dest in ("host", "bind")]
        assert hosts == ["127.0.0.1"], (name, hosts)
