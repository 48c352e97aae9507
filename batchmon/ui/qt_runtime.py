"""Before the window opens: can Qt reach a display, and are its X11 libraries here?

Without them Qt aborts with a message that can name the wrong library (it asks for
xcb-cursor0 when libxcb-icccm4 is what is missing). This check asks the dynamic linker
instead: ``ldd`` on Qt's own xcb platform plugin lists every library it cannot find,
and each maps to the Debian package that ships it. Stdlib only, and it never imports
Qt, so it can run where Qt would crash. ``make run`` calls ``python -m
batchmon.ui.qt_runtime`` first.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_MISSING = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")

#: Debian packages whose names do not follow the soname rule of :func:`debian_package`.
PACKAGE_EXCEPTIONS: dict[str, str] = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libbrotlidec.so.1": "libbrotli1",
    "libz.so.1": "zlib1g",
    "libgcc_s.so.1": "libgcc-s1",
}

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found``, in its order, without repeats."""
    found: list[str] = []
    for line in ldd_output.splitlines():
        match = _MISSING.match(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def debian_package(soname: str) -> str:
    """Debian's package for a shared library: ``libxcb-cursor.so.0`` -> ``libxcb-cursor0``.

    Debian names a library package after its soname, lower case, with ``.so.`` dropped
    and a hyphen before the version when the name ends in a digit
    (``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``); a few packages differ.
    """
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    name, sep, version = soname.partition(".so.")
    if not sep:
        return soname.lower()
    name = name.lower()
    return f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}"


def install_hint(sonames: Sequence[str]) -> str:
    """One line a person can act on."""
    packages = sorted({debian_package(s) for s in sonames})
    return (
        f"batchmon's window needs Qt's X11 libraries, missing: {', '.join(sonames)}; "
        f"install them with: sudo apt-get install {' '.join(packages)}"
    )


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def problem(env: Mapping[str, str], ldd: str | None = None) -> str | None:
    """What stops the window from opening here, in one line; None when nothing does."""
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in HEADLESS_PLATFORMS:
        return None
    if platform.startswith("wayland"):
        return None if env.get("WAYLAND_DISPLAY") else _no_display()
    if not env.get("DISPLAY"):
        return None if env.get("WAYLAND_DISPLAY") and not platform else _no_display()
    if ldd is None:
        return None
    missing = missing_libraries(ldd)
    return install_hint(missing) if missing else None


def _no_display() -> str:
    return (
        "batchmon's window has no display here (DISPLAY and WAYLAND_DISPLAY are unset): "
        'run it in a desktop session, under xvfb-run, or see "batchmon --help" for the CLI'
    )


def ldd_of_xcb_plugin() -> str | None:
    """``ldd``'s report on the xcb plugin, or None where there is no ldd or no plugin."""
    plugin = xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return None
    done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, check=False)
    return done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 1 with one line on stderr when the window cannot open; 0 otherwise.

    Arguments are batchmon's: a subcommand (``sim``, ``worker``...) needs no window.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        return 0
    env = os.environ
    wants_xcb = env.get("DISPLAY") and env.get("QT_QPA_PLATFORM", "xcb").startswith("xcb")
    message = problem(env, ldd_of_xcb_plugin() if wants_xcb else None)
    if message is None:
        return 0
    print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
