#!/bin/sh
# Put batchmon in the desktop's application menu: the .desktop entry, the AppStream
# metainfo and the app icon (SVG plus PNG sizes) under PREFIX/share. The `batchmon`
# command itself must already be on PATH (pipx, pip, or a link to the bundle's
# executable: ln -s /opt/batchmon/batchmon /usr/local/bin/batchmon).
#   packaging/linux/install-desktop-files.sh                 # PREFIX=~/.local, for you
#   sudo PREFIX=/usr/local packaging/linux/install-desktop-files.sh   # for everyone
# DESTDIR stages the files elsewhere (for packagers).
set -eu
ID=io.github.batchmon.Batchmon
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
PREFIX=${PREFIX:-$HOME/.local}
SHARE="${DESTDIR:-}$PREFIX/share"

install -D -m 0644 "$ROOT/packaging/linux/$ID.desktop" "$SHARE/applications/$ID.desktop"
install -D -m 0644 "$ROOT/packaging/linux/$ID.metainfo.xml" "$SHARE/metainfo/$ID.metainfo.xml"
install -D -m 0644 "$ROOT/resources/icons/batchmon.svg" "$SHARE/icons/hicolor/scalable/apps/$ID.svg"
for png in "$ROOT"/resources/icons/batchmon-*.png; do
  size=${png##*/batchmon-}; size=${size%.png}
  install -D -m 0644 "$png" "$SHARE/icons/hicolor/${size}x${size}/apps/$ID.png"
done

# Refresh the menu and icon caches where the tools exist (not when staging).
if [ -z "${DESTDIR:-}" ]; then
  command -v update-desktop-database >/dev/null 2>&1 &&
    update-desktop-database -q "$SHARE/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 &&
    gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
fi
echo "installed $ID into $SHARE"
