"""What `prepare` may write at all: the one list, checked by the planner (so --dry-run refuses what the live
writer would) and again by the writer before anything is opened. Pure."""

from __future__ import annotations

import re

from pcie_failover.model.address import InputError, MacAddress, PciAddress
from pcie_failover.prepare.model import Action, ActionKind, WriteError

DRIVER = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
ADDRESS = r"[0-9a-f]{4,5}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"
_ATTRIBUTES = re.compile(
    rf"bus/pci/drivers_probe|bus/pci/devices/{ADDRESS}/driver_override|bus/pci/drivers/{DRIVER}/(?:bind|unbind)"
)
RULE = re.compile(rf"/etc/udev/rules\.d/70-pcie-failover-{ADDRESS}\.rules")
_VALUE = re.compile(rf"|{DRIVER}|{ADDRESS}")
_WORD = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
_PROGRAM_OPTIONS = {"driverctl": frozenset({"--noprobe"})}
MODE = re.compile(r"0[0-7]{3}")


def check_attribute(rel: str, value: str) -> None:
    """Refuse any sysfs path or value outside the few `prepare` writes (WriteError)."""
    if not _ATTRIBUTES.fullmatch(rel) or ".." in rel.split("/"):
        raise WriteError(f"refusing to write /sys/{rel!r}: not an attribute prepare writes")
    if not _VALUE.fullmatch(value):
        raise WriteError(f"refusing to write {value!r} to /sys/{rel}: not a driver name or PCI address")


def check_words(name: str, args: tuple[str, ...]) -> None:
    """Every argument of a program: `[A-Za-z0-9_.:@-]`, never an option but the few named (WriteError)."""
    for arg in args:
        if not _WORD.fullmatch(arg) or (arg.startswith("-") and arg not in _PROGRAM_OPTIONS.get(name, ())):
            raise WriteError(f"refusing to run {name} with the argument {arg!r}")


def check_rule_path(path: str, verb: str) -> None:
    if not RULE.fullmatch(path):
        raise WriteError(f"refusing to {verb} {path!r}: not a file prepare writes")


def check_action(action: Action) -> None:
    """The action is one `prepare` may make (WriteError naming the first thing that is not)."""
    kind, args = action.kind, action.args
    if kind is ActionKind.SYSFS:
        check_attribute(args[0], args[1])
    elif kind in (ActionKind.IP, ActionKind.MODPROBE, ActionKind.DRIVERCTL):
        check_words(kind.value, args)
    elif kind is ActionKind.VF_ADDRESS:
        try:
            PciAddress.parse(args[0])
            MacAddress.parse(args[1])
        except InputError as error:
            raise WriteError(f"refusing to give an interface an address: {error}") from None
    elif kind is ActionKind.FILE_PUT:
        check_rule_path(args[0], "write")
        if len(args) != 3 or not MODE.fullmatch(args[2]):
            raise WriteError(f"refusing to write {args[0]!r} with the mode {args[2:]!r}: not permission bits")
    elif kind is ActionKind.FILE_REMOVE:
        check_rule_path(args[0], "remove")
    else:  # pragma: no cover - every kind is handled above
        raise WriteError(f"unknown write {kind}")
