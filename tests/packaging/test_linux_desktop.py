"""The desktop entry and AppStream metainfo: valid, consistent, and installable.

Software centres and menus read these files; a typo in them means no icon in the menu or
no listing at all, so they are checked with the freedesktop validators themselves.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

import batchmon

from .tools import PACKAGING, ROOT, run_tool

APP_ID = "io.github.batchmon.Batchmon"
DESKTOP = PACKAGING / "linux" / f"{APP_ID}.desktop"
METAINFO = PACKAGING / "linux" / f"{APP_ID}.metainfo.xml"
INSTALLER = PACKAGING / "linux" / "install-desktop-files.sh"


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _metainfo() -> ET.Element:
    return ET.parse(METAINFO).getroot()


def _problems(output: str) -> list[str]:
    """Validator lines that are errors or warnings (infos and hints are advice)."""
    return [
        line
        for line in output.splitlines()
        if ": error:" in line or ": warning:" in line or line.strip()[:2] in {"E:", "W:"}
    ]


def test_desktop_entry_passes_desktop_file_validate() -> None:
    result = run_tool("desktop-file-validate", DESKTOP)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not _problems(output), output


def test_desktop_entry_starts_batchmon_under_its_app_id() -> None:
    entry = _desktop_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "batchmon"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DESKTOP, encoding="utf-8")
    assert parser["Desktop Action demo"]["Exec"] == "batchmon --demo"


def test_metainfo_passes_appstreamcli_validate() -> None:
    result = run_tool("appstreamcli", "validate", "--no-net", METAINFO)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not _problems(output), output


def test_metainfo_describes_this_app_and_release() -> None:
    root = _metainfo()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    assert root.findtext("developer/name") == "batchmon developers"
    assert root.findtext("developer_name") == "batchmon developers"
    rating = root.find("content_rating")
    assert rating is not None and rating.get("type") == "oars-1.1"
    # The newest release listed is the version being shipped.
    releases = root.findall("releases/release")
    assert releases, "no <release> entries"
    assert releases[0].get("version") == batchmon.__version__


def test_metainfo_screenshot_is_an_https_link_to_the_docs_screenshot() -> None:
    images = [s.findtext("image") or "" for s in _metainfo().findall("screenshots/screenshot")]
    assert images, "no screenshot"
    url = urlparse(images[0])
    assert url.scheme == "https" and url.netloc
    assert url.path.endswith("/docs/screenshot.png")
    # The link serves the repository's own screenshot, so that file must exist.
    assert (ROOT / "docs" / "screenshot.png").is_file()


def test_installed_files_give_the_menu_entry_its_icon(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    env = {**os.environ, "DESTDIR": str(stage), "PREFIX": "/usr"}
    subprocess.run(["sh", str(INSTALLER)], env=env, check=True, capture_output=True, timeout=60)
    share = stage / "usr" / "share"

    installed = share / "applications" / DESKTOP.name
    icon = _desktop_entry(installed)["Icon"]
    assert (share / "icons/hicolor/scalable/apps" / f"{icon}.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256):
        assert (share / f"icons/hicolor/{size}x{size}/apps/{icon}.png").is_file(), size

    # validate-tree cross-checks the metainfo against the installed desktop entry.
    result = run_tool("appstreamcli", "validate-tree", "--no-net", stage)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not _problems(output), output


@pytest.mark.parametrize("broken", ["desktop", "metainfo"])
def test_validators_catch_a_broken_file(tmp_path: Path, broken: str) -> None:
    """The checks above can fail: a file with a bad key is rejected."""
    if broken == "desktop":
        bad = tmp_path / DESKTOP.name
        bad.write_text(DESKTOP.read_text() + "Frobnicate=yes\n", encoding="utf-8")
        result = run_tool("desktop-file-validate", bad)
    else:
        bad = tmp_path / METAINFO.name
        # A component id may not contain a space.
        bad.write_text(METAINFO.read_text().replace("</id>", " x</id>"), encoding="utf-8")
        result = run_tool("appstreamcli", "validate", "--no-net", bad)
    assert result.returncode != 0
    assert _problems(result.stdout + result.stderr)
