"""Icons and colours, loaded from ``resources/`` in one place.

Every widget asks this module for artwork, so a missing file shows up as one clear error
here instead of a silently blank icon somewhere in the window. Run
``python -m batchmon.ui.resources`` to re-render the PNG sizes of the app icon after the
SVG changes.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

TrayState = Literal["idle", "running", "completed", "failed"]
TRAY_STATES: tuple[TrayState, ...] = ("idle", "running", "completed", "failed")
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

#: One colour per batch status: the table, the detail pane and the tray agree on it.
STATUS_COLORS: dict[str, str] = {
    "validating": "#D97706",
    "in_progress": "#2563EB",
    "finalizing": "#7C3AED",
    "completed": "#16A34A",
    "failed": "#DC2626",
    "expired": "#EA580C",
    "cancelling": "#64748B",
    "cancelled": "#64748B",
}
_UNKNOWN_COLOR = "#94A3B8"


def resource_dir() -> Path:
    """The ``resources/`` directory (``BATCHMON_RESOURCES`` overrides it)."""
    override = os.environ.get("BATCHMON_RESOURCES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "resources"


def resource_path(*parts: str) -> Path:
    """Path of one resource file; a missing file is an error that names the file."""
    path = resource_dir().joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"batchmon resource {'/'.join(parts)} is missing (looked in {resource_dir()}); "
            "reinstall batchmon or set BATCHMON_RESOURCES to the resources directory"
        )
    return path


def render_svg(path: Path, size: int) -> QImage:
    """Render an SVG to a transparent square image of ``size`` pixels."""
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        raise ValueError(f"{path} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


@cache
def app_icon() -> QIcon:
    """The application icon, with pre-rendered PNG sizes where they exist."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        png = resource_dir() / "icons" / f"batchmon-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    icon.addFile(str(resource_path("icons", "batchmon.svg")))
    return icon


def notification_icon_path() -> Path:
    """The app icon as a PNG file, for notification servers that want a file, not a QIcon."""
    return resource_path("icons", "batchmon-128.png")


def status_color(status: str | None) -> QColor:
    """The colour that stands for ``status`` everywhere in the window."""
    return QColor(STATUS_COLORS.get(status or "", _UNKNOWN_COLOR))


@cache
def status_icon(status: str | None) -> QIcon:
    """A 16 px icon for a batch status (a neutral ring for an unknown one)."""
    name = status if status in STATUS_COLORS else "unknown"
    return QIcon(str(resource_path("status", f"{name}.svg")))


@cache
def _tray_pixmap(state: TrayState, count: int, size: int) -> QPixmap:
    pixmap = QPixmap.fromImage(render_svg(resource_path("tray", f"{state}.svg"), size))
    if count <= 0:
        return pixmap
    text = str(count) if count < 100 else "99+"
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(7, int(size * 0.36)))
    painter.setFont(font)
    width = max(painter.fontMetrics().horizontalAdvance(text) + size * 0.16, size * 0.44)
    height = size * 0.44
    badge = QRectF(size - width, size - height, width, height)
    painter.setPen(QColor(0, 0, 0, 110))
    painter.setBrush(QColor("#111827"))
    painter.drawRoundedRect(badge, height / 2, height / 2)
    painter.setPen(QColor("#FFFFFF"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


def tray_icon(state: TrayState, count: int = 0) -> QIcon:
    """The tray icon for the worst current ``state``, with ``count`` as a badge."""
    if state not in TRAY_STATES:
        raise ValueError(f"unknown tray state {state!r}; expected one of {TRAY_STATES}")
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        icon.addPixmap(_tray_pixmap(state, count, size))
    return icon


def render_app_icon_pngs() -> list[Path]:
    """Write ``resources/icons/batchmon-N.png`` for every size from the SVG."""
    svg = resource_path("icons", "batchmon.svg")
    written = []
    for size in APP_ICON_SIZES:
        target = svg.with_name(f"batchmon-{size}.png")
        if not render_svg(svg, size).save(str(target)):
            raise OSError(f"could not write {target}")
        written.append(target)
    return written


def _main() -> int:
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    for path in render_app_icon_pngs():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
