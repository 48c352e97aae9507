"""The systemd units for `batchmon worker`: valid to systemd, hardened, and secret-free.

`systemd-analyze verify` loads each unit as systemd would (unknown keys, bad values, an
ExecStart that is not executable); the program path is pointed at a stand-in script,
because batchmon is not installed under /opt here.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from batchmon.cli import build_parser
from batchmon.config import ENV_VARS, SECRET_FIELDS

from .tools import PACKAGING, read_unit, run_tool

UNITS = PACKAGING / "systemd"
SERVICE = UNITS / "batchmon-worker.service"
ONCE = UNITS / "batchmon-worker-once.service"
TIMER = UNITS / "batchmon-worker.timer"
CREDENTIALS = UNITS / "credentials.conf.example"
INSTALLED = "/opt/batchmon/bin/batchmon"
SECRET_ENV = {var for name in SECRET_FIELDS for var in ENV_VARS[name]}


def _stage(tmp_path: Path, *, with_credentials: bool = False) -> Path:
    """Copies of the units whose ExecStart runs an executable stand-in for batchmon."""
    stub = tmp_path / "batchmon"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.args"\n', encoding="utf-8")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for source in (SERVICE, ONCE, TIMER):
        text = source.read_text(encoding="utf-8").replace(INSTALLED, str(stub))
        (units / source.name).write_text(text, encoding="utf-8")
    if with_credentials:
        dropin = units / f"{SERVICE.name}.d"
        dropin.mkdir()
        text = CREDENTIALS.read_text(encoding="utf-8").replace(INSTALLED, str(stub))
        (dropin / "credentials.conf").write_text(text, encoding="utf-8")
    return units


def _verify(*units: Path) -> None:
    result = run_tool("systemd-analyze", "verify", *units)
    ours = [line for line in result.stderr.splitlines() if "batchmon" in line]
    assert result.returncode == 0 and not ours, result.stderr


def _worker_argv(exec_start: str) -> list[str]:
    argv = shlex.split(exec_start)
    assert argv[0] == INSTALLED, argv
    return argv[1:]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = _stage(tmp_path)
    _verify(units / SERVICE.name, units / ONCE.name, units / TIMER.name)


def test_credentials_dropin_passes_verify(tmp_path: Path) -> None:
    units = _stage(tmp_path, with_credentials=True)
    _verify(units / SERVICE.name)


def test_verify_catches_a_misspelt_setting(tmp_path: Path) -> None:
    units = _stage(tmp_path)
    bad = units / SERVICE.name
    bad.write_text(bad.read_text().replace("ProtectClock=", "ProtectClok="), encoding="utf-8")
    result = run_tool("systemd-analyze", "verify", bad)
    assert "ProtectClok" in result.stderr


@pytest.mark.parametrize(("unit", "once"), [(SERVICE, False), (ONCE, True)])
def test_exec_start_is_a_valid_worker_command(unit: Path, once: bool) -> None:
    argv = _worker_argv(read_unit(unit).value("Service", "ExecStart"))
    args = build_parser().parse_args(argv)
    assert args.command == "worker"
    assert args.once is once


@pytest.mark.parametrize("unit", [SERVICE, ONCE])
def test_secrets_come_from_the_environment_file_never_the_unit(unit: Path) -> None:
    parsed = read_unit(unit)
    assert parsed.values("Service", "EnvironmentFile") == ["/etc/batchmon/worker.env"]
    for assignment in parsed.values("Service", "Environment"):
        for pair in shlex.split(assignment):
            assert pair.partition("=")[0] not in SECRET_ENV, f"{unit.name}: {pair}"
    text = unit.read_text(encoding="utf-8")
    assert not re.search(r"sk-[A-Za-z0-9]|postgres(ql)?://", text), unit.name


@pytest.mark.parametrize("unit", [SERVICE, ONCE])
def test_units_are_hardened(unit: Path) -> None:
    service = read_unit(unit)
    expected = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert service.value("Service", key) == value, key


@pytest.mark.parametrize("unit", [SERVICE, ONCE])
def test_systemd_rates_the_exposure_low(tmp_path: Path, unit: Path) -> None:
    units = _stage(tmp_path)
    result = run_tool("systemd-analyze", "security", "--offline=yes", units / unit.name)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_sigterm_gets_time_to_finish_in_flight_work() -> None:
    service = read_unit(SERVICE)
    assert service.value("Service", "KillSignal") == "SIGTERM"
    assert service.value("Service", "TimeoutStopSec") == "5min"
    # Configuration and usage errors (exit 3 and 2) are not retried in a loop.
    assert set(service.value("Service", "RestartPreventExitStatus").split()) == {"2", "3"}


def test_timer_runs_the_one_pass_service_every_minute() -> None:
    timer = read_unit(TIMER)
    assert timer.value("Timer", "Unit") == ONCE.name
    assert read_unit(ONCE).value("Service", "Type") == "oneshot"
    result = run_tool(
        "systemd-analyze", "calendar", "--iterations=3", timer.value("Timer", "OnCalendar")
    )
    assert result.returncode == 0, result.stderr
    elapses = [
        datetime.fromisoformat(m.group(1))
        for m in re.finditer(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", result.stdout)
    ]
    assert len(elapses) == 3, result.stdout
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(elapses)}
    assert steps == {60}, result.stdout


def test_credentials_dropin_hands_each_secret_to_batchmon(tmp_path: Path) -> None:
    """Run the drop-in's ExecStart the way systemd would, with a credentials directory."""
    units = _stage(tmp_path, with_credentials=True)
    dropin = read_unit(units / f"{SERVICE.name}.d" / "credentials.conf")
    exec_start = [v for v in dropin.values("Service", "ExecStart") if v][-1]
    creds = tmp_path / "creds"
    creds.mkdir()
    for name, _ in (v.split(":", 1) for v in dropin.values("Service", "LoadCredential")):
        (creds / name).write_text(f"secret-{name}\n", encoding="utf-8")
    argv = shlex.split(exec_start.replace("$$", "$"))  # systemd turns $$ into $
    stub = tmp_path / "batchmon"
    stub.write_text(
        '#!/bin/sh\nprintf "%s|%s|%s\\n" "$OPENAI_API_KEY" "$DATABASE_URL" "$*" > "$0.out"\n',
        encoding="utf-8",
    )
    env = {"PATH": os.environ["PATH"], "CREDENTIALS_DIRECTORY": str(creds)}
    subprocess.run(argv, env=env, check=True, timeout=30)
    key, url, args = (tmp_path / "batchmon.out").read_text().strip().split("|")
    assert (key, url) == ("secret-openai_api_key", "secret-database_url")
    assert build_parser().parse_args(args.split()).command == "worker"
