#!/bin/sh
# Installs the Debian packages the test suite needs, only where they are missing: the
# libraries Qt needs offscreen, the D-Bus daemon the notification tests start a private
# session bus with, and the validators for the Linux desktop files and the systemd units.
# Runs as part of `make test`; a machine that already has them pays nothing.
set -eu
missing=""
for pair in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 \
            libfontconfig.so.1:libfontconfig1 libdbus-1.so.3:libdbus-1-3 \
            libglib-2.0.so.0:libglib2.0-0; do
  ldconfig -p 2>/dev/null | grep -q "${pair%%:*}" || missing="$missing ${pair#*:}"
done
for pair in desktop-file-validate:desktop-file-utils appstreamcli:appstream \
            systemd-analyze:systemd dbus-daemon:dbus-daemon; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing system packages:$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "the tests need these system packages:$missing (install them with your package manager)" >&2
  exit 1
fi
