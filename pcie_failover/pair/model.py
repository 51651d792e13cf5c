"""The spec of one failover pair: frozen records every renderer reads and none re-derives."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pcie_failover.model.address import InputError, MacAddress, PciAddress, validate_ifname
from pcie_failover.model.check import Manager
from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import ExitCode, RuleResult, Verdict
from pcie_failover.pair.ports import ChassisSlot


class BackendKind(enum.Enum):
    """The standby's backend: QEMU's netdev type, or a macvtap (QEMU: a tap netdev on the macvtap's fd)."""

    TAP = "tap"
    BRIDGE = "bridge"
    USER = "user"
    MACVTAP = "macvtap"


MACVTAP_FD = 3  # a single digit: POSIX sh redirects only fds 0-9


@dataclass(frozen=True)
class Backend:
    """`--netdev`: tap (QEMU's ifup script), bridge=NAME (qemu-bridge-helper), macvtap=IF or user (slirp).

    `device` is the host interface named: the bridge, or the macvtap's lower device.
    """

    kind: BackendKind
    device: str | None = None

    @classmethod
    def parse(cls, text: str) -> Backend:
        """Parse `tap`, `user`, `bridge=NAME` or `macvtap=IF`; raise InputError otherwise."""
        if text in ("tap", "user"):
            return cls(BackendKind(text))
        kind, equals, name = text.partition("=")
        if not equals or kind not in ("bridge", "macvtap"):
            raise InputError(f"--netdev {text!a} is not tap, user, bridge=NAME or macvtap=IF")
        return cls(BackendKind(kind), validate_ifname(name))

    @property
    def bridge(self) -> str | None:
        """The bridge of `bridge=NAME`."""
        return self.device if self.kind is BackendKind.BRIDGE else None

    @property
    def lower(self) -> str | None:
        """The macvtap's lower device of `macvtap=IF`."""
        return self.device if self.kind is BackendKind.MACVTAP else None


def macvtap_name(mac: MacAddress) -> str:
    """The standby's macvtap: `mvt` and the VM's MAC in hex, 15 characters (IFNAMSIZ), one per VM MAC."""
    return "mvt" + mac.octets.hex()


class MacSource(enum.Enum):
    """Where the pair's MAC came from."""

    OPTION = "option"  # --mac
    VF_ADMIN = "vf-admin"  # the VF's admin MAC as set on the PF
    DERIVED = "derived"  # from the PF's MAC and the VF index


@dataclass(frozen=True)
class RootPort:
    """A pcie-root-port on pcie.0; `addr` (device number) only when pinning was asked for."""

    id: str
    chassis: int
    slot: int
    addr: int | None


@dataclass(frozen=True)
class Standby:
    """The virtio-net-pci,failover=on device and its backend."""

    id: str
    alias: str  # libvirt user alias (ua-...)
    netdev_id: str
    backend: Backend
    port: RootPort


@dataclass(frozen=True)
class Primary:
    """The VF on vfio-pci (or, with `pool`, a libvirt hostdev network's VF)."""

    id: str
    alias: str
    host: PciAddress
    port: RootPort
    pool: str | None


@dataclass(frozen=True)
class HostStep:
    """One command: `argv`, optionally with stdout redirected to `redirect` (a sysfs file).

    `tap_fd`: (fd, macvtap) opens the macvtap's character device `/dev/tap<its ifindex>` read-write as that fd.
    """

    description: str
    argv: tuple[str, ...]
    redirect: str | None = None
    tap_fd: tuple[int, str] | None = None


@dataclass(frozen=True)
class HostPrep:
    """What one host (source or destination) needs before the VM runs there; `skipped`: steps already done."""

    host: str
    note: str
    steps: tuple[HostStep, ...]
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairSpec:
    """Everything a renderer prints: the devices, the MAC, host steps, and what the check found."""

    manager: Manager
    mac: MacAddress
    mac_source: MacSource
    mac_note: str | None  # why the VF's reported MAC was not taken, when it was not
    standby: Standby
    primary: Primary
    pf_netdev: str | None  # the PF's interface, when the primary is a VF
    vf_index: int | None
    prep: tuple[HostPrep, ...]
    warnings: tuple[RuleResult, ...]  # warn and unknown results of the check
    failures: tuple[RuleResult, ...]  # only with --force: the spec is printed anyway


@dataclass(frozen=True)
class PairRequest:
    """What the user asked for, validated (ids against QEMU's rules, MAC unicast)."""

    mac: MacAddress | None = None
    standby_id: str = "net0"
    primary_id: str = "hostdev0"
    backend: Backend = Backend(BackendKind.TAP)
    used_chassis: tuple[ChassisSlot, ...] = ()
    ports: tuple[ChassisSlot, ...] = ()  # explicit standby/primary port pairs
    used_addrs: tuple[PciAddress, ...] = ()
    pin_addr: bool = False
    pool: str | None = None
    force: bool = False


@dataclass(frozen=True)
class PairReport:
    """`pair`: the check that was run and, unless refused, the spec."""

    check: CheckReport
    request: PairRequest
    spec: PairSpec | None  # None: refused (a check failed and no --force)

    @property
    def exit_code(self) -> ExitCode:
        """1 when refused or a check failed (the spec printed anyway with --force), else 0: the spec was printed.

        A refusal is never 0, even when no device could be read and so no check failed.
        """
        refused = self.spec is None or self.check.verdict is Verdict.NOT_READY
        return ExitCode.NOT_READY if refused else ExitCode.READY
