"""Running the real ``batchmon`` entry point in-process and reading what it printed."""

from __future__ import annotations

import pytest

from batchmon.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``batchmon *argv`` through main(argv): its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
