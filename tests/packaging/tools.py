"""Helpers for the packaging tests: run a system validator, read systemd unit files.

The validators are Debian packages (desktop-file-utils, appstream, systemd) installed by
scripts/ensure-system-deps.sh; a missing one fails with the package to install rather
than passing silently.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"

#: Which Debian package provides each validator.
TOOL_PACKAGES = {
    "desktop-file-validate": "desktop-file-utils",
    "appstreamcli": "appstream",
    "systemd-analyze": "systemd",
}


def tool(name: str) -> str:
    """Absolute path of a validator, or an assertion naming the package to install."""
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install {TOOL_PACKAGES.get(name, name)}"
    return path


def run_tool(
    name: str, *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@dataclass
class UnitFile:
    """A systemd unit file as sections of (key, value) pairs; keys may repeat."""

    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def value(self, section: str, key: str) -> str:
        found = self.values(section, key)
        assert found, f"[{section}] has no {key}="
        return found[-1]


def read_unit(path: Path) -> UnitFile:
    """Parse the subset of unit-file syntax these files use (no line continuations)."""
    unit = UnitFile()
    section = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines unsupported"
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.sections.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{path.name}:{number}: not a key=value line in a section"
        unit.sections[section].append((key.strip(), value.strip()))
    return unit
