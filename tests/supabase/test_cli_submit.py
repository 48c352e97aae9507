"""``batchmon submit --all-untagged`` signed in to Supabase: the user's own assets only.

The real entry point (in a thread: the gateway serves on this test's loop), the real
supabase client over the gateway, the simulator for OpenAI. No direct connection string
is given, as on a desktop user's machine.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.cli.helpers import run
from tests.fixtures.postgres import fetch_all, insert_assets
from tests.fixtures.sim import LiveSim
from tests.helpers.cli import cli_env
from tests.helpers.supabase import PASSWORD, Users
from tests.supabase_gateway import Gateway


async def test_submit_all_untagged_takes_only_the_signed_in_users_assets(
    gateway: Gateway,
    users: Users,
    database_url: str,
    live_sim: LiveSim,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = insert_assets(database_url, 5, user_id=users.alice.id, seed="alice")
    bob = insert_assets(database_url, 4, user_id=users.bob.id, seed="bob")
    env = cli_env(tmp_path, live_sim) | {
        "SUPABASE_URL": gateway.url,
        "SUPABASE_ANON_KEY": gateway.anon_key,
        "BATCHMON_SUPABASE_EMAIL": users.alice.email,
        "BATCHMON_SUPABASE_PASSWORD": PASSWORD,
    }
    for key in [k for k in os.environ if k not in env]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    code, out, err = await asyncio.to_thread(run, capsys, "submit", "--all-untagged", "--yes")

    assert code == 0, err
    assert "5 request(s)" in out
    pending = fetch_all(
        database_url, "select id::text from public.assets where auto_tag_status = 'pending'"
    )
    assert sorted(r[0] for r in pending) == sorted(alice)
    untouched = fetch_all(
        database_url, "select id::text from public.assets where auto_tag_status is null"
    )
    assert sorted(r[0] for r in untouched) == sorted(bob)
