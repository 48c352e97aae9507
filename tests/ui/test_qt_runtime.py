"""``make run``'s pre-flight: missing X11 libraries and a missing display in one line each."""

from __future__ import annotations

import subprocess
import sys

import pytest

from batchmon.ui.qt_runtime import (
    debian_package,
    install_hint,
    ldd_of_xcb_plugin,
    missing_libraries,
    problem,
)

# The shapes glibc's ldd prints: resolved, not found, the vDSO, the loader itself.
LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd3c5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f7dc0bc1000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-icccm.so.4 => not found
\tlibX11-xcb.so.1 => not found
\tlibglib-2.0.so.0 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f7dc0d7c000)
"""


def test_only_the_libraries_ldd_could_not_find_are_reported() -> None:
    assert missing_libraries(LDD_MISSING) == [
        "libxkbcommon-x11.so.0",
        "libxcb-icccm.so.4",
        "libX11-xcb.so.1",
        "libglib-2.0.so.0",
    ]
    assert missing_libraries("\tnot a dynamic executable\n") == []
    assert missing_libraries("\tstatically linked\n") == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_each_library_maps_to_its_debian_package(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def test_the_hint_is_one_line_naming_what_to_install() -> None:
    hint = problem({"DISPLAY": ":0"}, LDD_MISSING)
    assert hint == install_hint(missing_libraries(LDD_MISSING))
    assert "\n" not in hint
    assert hint.endswith(
        "sudo apt-get install libglib2.0-0 libx11-xcb1 libxcb-icccm4 libxkbcommon-x11-0"
    )
    assert "libxcb-cursor0" not in hint, "only what is really missing"


def test_no_display_is_one_line_and_headless_platforms_pass() -> None:
    message = problem({}, None)
    assert message is not None and "no display" in message and "\n" not in message
    assert problem({"QT_QPA_PLATFORM": "offscreen"}, None) is None
    assert problem({"WAYLAND_DISPLAY": "wayland-0"}, None) is None
    assert problem({"QT_QPA_PLATFORM": "wayland"}, None) is not None
    assert problem({"DISPLAY": ":0"}, LDD_MISSING.replace("not found", "/lib/x.so")) is None


def test_this_machines_qt_plugin_has_every_library() -> None:
    """The real plugin through the real ldd: the suite's machine has the xcb set."""
    report = ldd_of_xcb_plugin()
    assert report is not None and "libQt6XcbQpa" in report
    assert missing_libraries(report) == []


def test_the_command_says_one_line_and_fails_without_a_display() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "batchmon.ui.qt_runtime"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "no display" in done.stderr
    sub = subprocess.run(
        [sys.executable, "-m", "batchmon.ui.qt_runtime", "worker"], env=env, check=False
    )
    assert sub.returncode == 0, "a CLI subcommand needs no window"
