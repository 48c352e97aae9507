"""The desktop bundle builds with PyInstaller and the built program passes its self-test.

This is the slowest test in the suite (a few minutes): it runs packaging/build-bundle.sh,
which builds the one-folder bundle and then runs the frozen ``batchmon --version``,
``batchmon db migrate`` on a throwaway embedded database and ``batchmon --self-test``
(main window offscreen, embedded Postgres, simulator, one sync pass).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_bundle_builds_and_its_self_test_passes(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "DIST": str(tmp_path / "dist"),
        "BUILD": str(tmp_path / "build"),
    }
    result = subprocess.run(
        ["sh", str(ROOT / "packaging" / "build-bundle.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "build-bundle: ok" in result.stdout
    assert "self-test" in output
    assert (tmp_path / "dist" / "batchmon" / "batchmon").is_file()
