"""``batchmon --self-test`` says which step broke instead of passing or hanging.

The passing run, as the bundle check calls it, is in test_shutdown.py (a real process).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from batchmon.ui import resources
from batchmon.ui.self_test import run_self_test


@pytest.fixture
def empty_resources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A bundle that lost its ``resources/`` directory (no cached icons to hide it)."""
    caches = (resources.app_icon, resources.status_icon, resources._tray_pixmap)
    for cached in caches:
        cached.cache_clear()
    monkeypatch.setenv("BATCHMON_RESOURCES", str(tmp_path))
    yield
    monkeypatch.undo()
    for cached in caches:
        cached.cache_clear()


async def test_missing_resources_fail_with_the_file_named(
    empty_resources: None, capsys: pytest.CaptureFixture[str]
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert await run_self_test(app) == 1
    err = capsys.readouterr().err
    assert "self-test FAILED while loading icons from resources/" in err
    assert "icons/batchmon.svg is missing" in err
