"""Event sources for `watch`: udev's PCI events (pyudev) and rtnetlink link changes.

Both only wake the audit; nothing is read from an event's payload (audits are level
triggered). A netlink receive buffer that overflowed (ENOBUFS) means events were lost,
which an audit of everything covers as well as any event could.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Protocol

RTMGRP_LINK = 0x1
_RECV = 65536


class EventSource(Protocol):
    """Something with a file descriptor that says "the host may have changed"."""

    def fileno(self) -> int:
        """For select()."""

    def drain(self) -> int:
        """Consume what is pending; return how many events (an overflow counts as one)."""


class UdevPci:
    """udev's `pci` events through a pyudev monitor (pyudev is imported only here)."""

    def __init__(self, context: Any = None) -> None:
        import pyudev

        self.monitor = pyudev.Monitor.from_netlink(context or pyudev.Context())
        self.monitor.filter_by("pci")
        self.monitor.start()

    def fileno(self) -> int:
        """The monitor's socket."""
        return int(self.monitor.fileno())

    def drain(self) -> int:
        """Read every pending event."""
        count = 0
        while True:
            try:
                device = self.monitor.poll(timeout=0)
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    return count + 1
                raise
            if device is None:
                return count
            count += 1


class LinkChanges:
    """rtnetlink RTM_NEWLINK/RTM_DELLINK notifications (a VF MAC, VLAN or link state set through the PF)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE)
        self.socket.bind((0, RTMGRP_LINK))

    def fileno(self) -> int:
        """The netlink socket."""
        return self.socket.fileno()

    def drain(self) -> int:
        """Read every pending message."""
        count = 0
        while True:
            try:
                self.socket.recv(_RECV)
            except BlockingIOError:
                return count
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    return count + 1
                raise
            count += 1
