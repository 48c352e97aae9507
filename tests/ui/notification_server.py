"""A private D-Bus session with a freedesktop notification server, for real sends.

``dbus-daemon --session`` runs on a socket in a temp dir (the desktop's own session bus
is never touched), and :class:`NotificationServer` owns ``org.freedesktop.Notifications``
on it, answering as the Desktop Notifications Specification (1.2) says a server does:
ids start at 1 and are never reused, ``Notify`` with ``replaces_id`` 0 makes a new one,
``CloseNotification`` of an unknown id is an error, and a person pressing an action
emits ``ActionInvoked`` followed by ``NotificationClosed`` with reason 2 (dismissed),
the order dunst and GNOME Shell use.
"""

# The D-Bus signatures are dbus-fast's annotations ("s", "a{sv}"), not Python types:
# ruff: noqa: F821, F722, UP037
# mypy: disable-error-code="name-defined, valid-type"

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
CLOSED_DISMISSED = 2


@dataclass(frozen=True, slots=True)
class Received:
    """One ``Notify`` call as the server saw it."""

    id: int
    app_name: str
    app_icon: str
    summary: str
    body: str
    actions: dict[str, str]
    hints: dict[str, Any]
    expire_timeout: int


class NotificationServer(ServiceInterface):
    """``org.freedesktop.Notifications``: records each notification, can press its actions."""

    CAPABILITIES = ("actions", "body", "body-markup", "icon-static", "persistence")

    def __init__(self) -> None:
        super().__init__(BUS_NAME)
        self._next_id = 1
        self.open: dict[int, Received] = {}
        self.received: asyncio.Queue[Received] = asyncio.Queue()

    @method()
    def GetCapabilities(self) -> "as":
        return list(self.CAPABILITIES)

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["batchmon-test", "batchmon", "1.0", "1.2"]

    @method()
    def Notify(
        self,
        app_name: "s",
        replaces_id: "u",
        app_icon: "s",
        summary: "s",
        body: "s",
        actions: "as",
        hints: "a{sv}",
        expire_timeout: "i",
    ) -> "u":
        if replaces_id and replaces_id in self.open:
            nid = replaces_id
        else:
            nid = self._next_id
            self._next_id += 1
        pairs = dict(zip(actions[::2], actions[1::2], strict=True))
        values = {k: v.value if isinstance(v, Variant) else v for k, v in hints.items()}
        note = Received(nid, app_name, app_icon, summary, body, pairs, values, expire_timeout)
        self.open[nid] = note
        self.received.put_nowait(note)
        return nid

    @method()
    def CloseNotification(self, nid: "u") -> "":
        if nid not in self.open:
            raise DBusError("org.freedesktop.DBus.Error.InvalidArgs", f"no notification {nid}")
        del self.open[nid]
        self.NotificationClosed(nid, 3)

    @signal()
    def ActionInvoked(self, nid: "u", action_key: "s") -> "us":
        return [nid, action_key]

    @signal()
    def NotificationClosed(self, nid: "u", reason: "u") -> "uu":
        return [nid, reason]

    def press(self, nid: int, action_key: str) -> None:
        """A person pressed ``action_key`` on notification ``nid``."""
        if action_key not in self.open[nid].actions:
            raise KeyError(f"notification {nid} has no action {action_key!r}")
        self.ActionInvoked(nid, action_key)
        del self.open[nid]
        self.NotificationClosed(nid, CLOSED_DISMISSED)


@dataclass(frozen=True, slots=True)
class Session:
    """A running private session bus and the notification server on it."""

    address: str
    server: NotificationServer


def _start_daemon(runtime: Path) -> tuple[subprocess.Popen[str], str]:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError(
            "dbus-daemon is missing: run scripts/ensure-system-deps.sh (Debian package dbus-daemon)"
        )
    process = subprocess.Popen(
        [
            daemon,
            "--session",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
            f"--address=unix:path={runtime / 'bus'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip()  # printed once the bus listens
    if not address:
        process.kill()
        raise RuntimeError("dbus-daemon did not start")
    return process, address


@asynccontextmanager
async def notification_session(monkeypatch: Any) -> AsyncIterator[Session]:
    """A private bus as ``DBUS_SESSION_BUS_ADDRESS``, with the server owning its name."""
    with tempfile.TemporaryDirectory(prefix="batchmon-dbus-") as tmp:
        process, address = await asyncio.to_thread(_start_daemon, Path(tmp))
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        bus = await MessageBus(bus_address=address).connect()
        server = NotificationServer()
        try:
            bus.export(OBJECT_PATH, server)
            await bus.request_name(BUS_NAME)
            yield Session(address, server)
        finally:
            bus.disconnect()
            process.terminate()
            await asyncio.to_thread(process.wait, 5)
