"""Running the real ``batchmon`` entry point in-process and reading what it printed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from batchmon.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``batchmon *argv`` through main(argv): its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@dataclass(frozen=True)
class Batchmon:
    """``batchmon`` pointed at the test's database: ``batchmon("status", "--json")``.

    Every command a test runs against its database takes the same ``--database-url``;
    this adds it, so each call says only what differs.
    """

    capsys: pytest.CaptureFixture[str]
    database_url: str

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """``batchmon *argv --database-url <the test's database>``, as :func:`run`."""
        return run(self.capsys, *argv, "--database-url", self.database_url)
